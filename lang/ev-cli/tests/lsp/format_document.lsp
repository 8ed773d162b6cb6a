# Formatting returns the `ev fmt` layout; a formatted file needs no edit.
### file everything.ev
let   a={x=1,
  y =   2}
# a comment

let b=[1,2,3]
### file clean.ev
let a = 1
### format everything.ev
### format clean.ev

# Several syntax errors in one file are all reported.
### file everything.ev
let a = (1 +
let b = [1, 2
let c = "fine"
let d = { x = }
### open everything.ev
### diagnostics

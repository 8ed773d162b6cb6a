# Renaming a function parameter edits it and its uses only.
### file everything.ev
let x = 1
let double = fn(x) => x * 2 + x
### rename everything.ev 2:23 n

# An open file that everything.ev does not import is checked on its own.
### file everything.ev
let a = 1
### file scratch.ev
let b = undefined_here
### open scratch.ev
### diagnostics

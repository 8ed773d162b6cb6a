# A half-typed line in the middle of a file is reported without wiping the
# rest of the file's diagnostics (error recovery).
### file everything.ev
let a = missing_one
let b = 2
let c = missing_two
### open everything.ev
### diagnostics
### change everything.ev 2:1-2:1
let half = { x =
### diagnostics

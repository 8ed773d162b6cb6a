# Closing an edited buffer goes back to the file on disk: its diagnostics
# follow the disk text again.
### file everything.ev
let a = 1
### open everything.ev
### change everything.ev 1:9-1:10
oops
### diagnostics

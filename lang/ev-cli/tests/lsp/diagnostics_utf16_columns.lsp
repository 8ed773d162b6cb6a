# Columns are UTF-16 code units: an error after non-ASCII text (é is one
# unit, 😀 two) lands on the right characters.
### file everything.ev
let greeting = "héllo 😀 wörld" + nope
let other = "日本語" + also_nope
### open everything.ev
### diagnostics

# Completion works on a half-typed field the parser cannot read yet.
### file everything.ev
let x = 1
### open everything.ev
### change everything.ev 1:10-1:10

machine web {
  os = "nixos"
  activ
}
### completion everything.ev 4:8

# Fields of a nested schema (a machine's activation).
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  activation = { method = "profile",  }
}
### completion everything.ev 4:38

# A field typed as an enum or a reference offers its values.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
machine db {
  platform = "x86_64-linux"
  os = ""
  activation = { method = "nixos-rebuild" }
}
cluster k3s {
  machine = ""
}
### completion everything.ev 9:9
### completion everything.ev 13:14

# A field key in a resource body goes to the schema field in the standard
# library.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
### definition everything.ev 2:5
### definition everything.ev 5:20

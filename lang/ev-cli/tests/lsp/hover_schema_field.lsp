# Hovering a field's key in a resource body shows the schema field: type,
# required or optional, documentation.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
### hover everything.ev 3:4
### hover everything.ev 5:18

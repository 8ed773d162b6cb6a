# Builtins show their documentation; a kind shows its schema.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
let host = cidr_host("192.0.2.0/24", 5)
let all = machine
### hover everything.ev 7:14
### hover everything.ev 8:12

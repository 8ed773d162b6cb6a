# Evaluation and schema errors (a wrong enum member, a failed check) carry
# the schema's location as related information.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "windows"
  address = "not an address"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
### open everything.ev
### diagnostics

# After a dot: a kind's resources, then a record's fields.
### file everything.ev
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
stack jupiter {
  project = "jupiter"
  stack = "prod"
  resources = []
}
let a = machine.
let b = stack.jupiter.outputs.ethane.
### file exports/jupiter/generated.json
{
  "ethane": { "ipAddress": "203.0.113.7", "ipv6Address": "2001:db8:7::1" },
  "nixie": { "ipAddress": "203.0.113.10" }
}
### completion everything.ev 12:17
### completion everything.ev 13:38

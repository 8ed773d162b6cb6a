# Hovering a value read from exports shows the address written there.
### file everything.ev
export stack jupiter {
  project = "jupiter"
  stack = "prod"
  resources = []
}
let ethane = stack.jupiter.outputs.ethane
let address = stack.jupiter.outputs.ethane.ipAddress
### file exports/jupiter/generated.json
{
  "ethane": { "ipAddress": "203.0.113.7", "ipv6Address": "2001:db8:7::1" },
  "nixie": { "ipAddress": "203.0.113.10" }
}
### hover everything.ev 7:45
### hover everything.ev 6:30

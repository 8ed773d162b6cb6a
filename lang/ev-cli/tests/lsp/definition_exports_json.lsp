# A stack output goes to the key in exports/<stack>/generated.json.
### file everything.ev
export stack jupiter {
  project = "jupiter"
  stack = "prod"
  resources = []
}
let address = stack.jupiter.outputs.ethane.ipAddress
### file exports/jupiter/generated.json
{
  "ethane": { "ipAddress": "203.0.113.7", "ipv6Address": "2001:db8:7::1" },
  "nixie": { "ipAddress": "203.0.113.10" }
}
### definition everything.ev 6:45

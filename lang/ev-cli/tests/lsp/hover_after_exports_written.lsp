# A stage writes its exports while the editor is open: the watched-file
# notification makes values read from them known, and schema checks of
# values that depend on them run again.
### file everything.ev
stack jupiter {
  project = "jupiter"
  stack = "prod"
  resources = []
}
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = stack.jupiter.outputs.web.ipAddress
  activation = { method = "nixos-rebuild" }
}
### open everything.ev
### diagnostics
### hover everything.ev 9:43
### write exports/jupiter/generated.json
{ "web": { "ipAddress": "203.0.113.700" } }
### diagnostics
### hover everything.ev 9:43
### write exports/jupiter/generated.json
{ "web": { "ipAddress": "203.0.113.7" } }
### diagnostics
### hover everything.ev 9:43

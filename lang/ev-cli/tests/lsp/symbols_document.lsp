# Document symbols: resources as a tree of their fields, bindings,
# schemas.
### file everything.ev
let port = 8080
let double = fn(x) => x * 2
schema Settings {
  name: String
  size?: Int
}
machine web {
  platform = "x86_64-linux"
  os = "nixos"
  address = "192.0.2.10"
  activation = { method = "nixos-rebuild", ssh_user = "root" }
}
### symbols everything.ev

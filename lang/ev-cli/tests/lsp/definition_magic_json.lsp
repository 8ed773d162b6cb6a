# A value read from a JSON file goes to its key in that file.
### file everything.ev
let keys = json("magic/public_keys.json")
let deploy = keys.ssh.deploy
### file magic/public_keys.json
{
  "age": { "deploy": "age1qqq" },
  "ssh": {
    "admin": "ssh-ed25519 AAAA admin",
    "deploy": "ssh-ed25519 AAAA deploy"
  }
}
### definition everything.ev 2:24
### definition everything.ev 2:19

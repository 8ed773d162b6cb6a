# Where sops-nix finds the machine's key: its ssh host key, converted to age.
# ev declares the secrets themselves (a machine's `secrets`), never their text.
{ config, lib, ... }:
{
  sops.age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
  services.tailscale.authKeyFile = config.sops.secrets."tailscale/auth_key".path;
}

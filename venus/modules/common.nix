# Settings every machine shares. ev renders magic values to a Nix file so
# modules read them without import-from-derivation.
{ config, lib, pkgs, ev, ... }:
{
  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  time.timeZone = "Asia/Tokyo";
  users.users.${ev.magic.user}.openssh.authorizedKeys.keys = lib.attrValues ev.magic.ssh;
}

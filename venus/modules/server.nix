# Headless servers: ssh only, automatic garbage collection.
{ config, lib, pkgs, ... }:
{
  services.openssh.enable = true;
  services.openssh.settings.PasswordAuthentication = false;
  networking.firewall.allowedTCPPorts = [ 22 ];
  nix.gc.automatic = true;
}

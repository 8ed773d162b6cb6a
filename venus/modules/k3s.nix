# A single-node k3s server (the milky-way cluster).
{ config, lib, pkgs, ... }:
{
  services.k3s.enable = true;
  services.k3s.role = "server";
  networking.firewall.allowedTCPPorts = [ 6443 80 443 ];
  networking.firewall.allowedTCPPortRanges = [ { from = 30000; to = 32767; } ];
}

# Shell accounts for friends.
{ config, lib, pkgs, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts."tilde.yuto.sh".root = "/srv/tilde";
}

# Yuto's home-manager configuration, shared by every machine he logs in to.
{ config, lib, pkgs, ev, ... }:
{
  home.username = ev.magic.user;
  home.stateVersion = "24.05";
  programs.git.enable = true;
  programs.git.userName = "Yuto";
  programs.direnv.enable = true;
}

# Host-specific settings of tilderef.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "tilderef";
}

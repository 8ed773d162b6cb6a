# Host-specific settings of serverref.
{ config, lib, pkgs, ... }:
{
  networking.hostName = "serverref";
}

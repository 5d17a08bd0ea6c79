provider "proxmox" {
  pm_api_url          = var.pm_api_url
  pm_api_token_id     = var.pm_api_token_id
  pm_api_token_secret = var.pm_api_token_secret
  pm_tls_insecure     = false
}

variable "pm_api_url" {
  type    = string
  default = "https://pve1.homelab.lan:8006/api2/json"
}

variable "pm_api_token_id" {
  type    = string
  default = "terraform@pve!iac"
}

variable "pm_api_token_secret" {
  type      = string
  sensitive = true
}

terraform {
  required_providers {
    proxmox = {
      source = "bpg/proxmox"
    }
  }
}

variable "vm_id" {
  type = number
}

variable "node" {
  type = string
}

variable "hostname" {
  type = string
}

variable "tags" {
  type    = list(string)
  default = []
}

variable "pool" {
  type    = string
  default = null
}

variable "running" {
  type    = bool
  default = true
}

variable "template" {
  type    = bool
  default = false
}

variable "cores" {
  type    = number
  default = 1
}

variable "memory_mb" {
  type    = number
  default = 512
}

variable "rootfs_gb" {
  type = number
}

variable "mac" {
  type = string
}

variable "os_template" {
  description = "what the container was made from; PVE does not record it, so changes to it are ignored"
  type        = string
  default     = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
}

resource "proxmox_virtual_environment_container" "this" {
  vm_id         = var.vm_id
  node_name     = var.node
  tags          = var.tags
  pool_id       = var.pool
  started       = var.running
  start_on_boot = false
  template      = var.template
  unprivileged  = true

  cpu {
    cores = var.cores
  }

  memory {
    dedicated = var.memory_mb
    swap      = 512
  }

  disk {
    datastore_id = "local-lvm"
    size         = var.rootfs_gb
  }

  initialization {
    hostname = var.hostname
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

  network_interface {
    name        = "eth0"
    bridge      = "vmbr0"
    mac_address = var.mac
  }

  operating_system {
    template_file_id = var.os_template
    type             = "debian"
  }

  lifecycle {
    ignore_changes = [operating_system]
  }
}

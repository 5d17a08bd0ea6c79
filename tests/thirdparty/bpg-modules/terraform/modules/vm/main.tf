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

variable "name" {
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
  default = 2
}

variable "sockets" {
  type    = number
  default = 1
}

variable "memory_mb" {
  type = number
}

variable "os_type" {
  type    = string
  default = "l26"
}

variable "mac" {
  type = string
}

variable "disks" {
  description = "interface, datastore and size (GiB) of each disk"
  type = list(object({
    interface = string
    datastore = string
    size      = number
  }))
}

resource "proxmox_virtual_environment_vm" "this" {
  vm_id         = var.vm_id
  node_name     = var.node
  name          = var.name
  tags          = var.tags
  pool_id       = var.pool
  started       = var.running
  on_boot       = false
  template      = var.template
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]

  cpu {
    cores   = var.cores
    sockets = var.sockets
  }

  memory {
    dedicated = var.memory_mb
  }

  dynamic "disk" {
    for_each = var.disks
    content {
      interface    = disk.value.interface
      datastore_id = disk.value.datastore
      size         = disk.value.size
      iothread     = true
    }
  }

  network_device {
    bridge      = "vmbr0"
    model       = "virtio"
    mac_address = var.mac
    firewall    = true
  }

  operating_system {
    type = var.os_type
  }
}

output "id" {
  value = proxmox_virtual_environment_vm.this.vm_id
}

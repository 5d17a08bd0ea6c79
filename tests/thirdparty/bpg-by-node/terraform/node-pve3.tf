# the guests of pve3

resource "proxmox_virtual_environment_vm" "dev_sandbox" {
  name          = "dev-sandbox"
  node_name     = local.node_c
  vm_id         = 105
  tags          = ["dev"]
  started       = false
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]
  pool_id       = "lab"

  cpu {
    cores   = 1
    sockets = 1
  }

  memory {
    dedicated = 1024
  }

  disk {
    interface    = "scsi0"
    datastore_id = "local-lvm"
    size         = 20
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:05:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_vm" "win_build" {
  name          = "win-build"
  node_name     = local.node_c
  vm_id         = 106
  tags          = ["ci"]
  started       = false
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]

  cpu {
    cores   = 4
    sockets = 1
  }

  memory {
    dedicated = 8192
  }

  disk {
    interface    = "scsi0"
    datastore_id = "nas-nfs"
    size         = 80
    iothread     = true
  }

  disk {
    interface    = "scsi1"
    datastore_id = "nas-nfs"
    size         = 40
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:06:01"
    firewall    = true
  }

  operating_system {
    type = "win11"
  }
}

resource "proxmox_virtual_environment_container" "backup_agent" {
  node_name     = local.node_c
  vm_id         = 202
  tags          = ["ops"]
  started       = false
  start_on_boot = false
  unprivileged  = true

  cpu {
    cores = 1
  }

  memory {
    dedicated = 512
    swap      = 512
  }

  disk {
    datastore_id = "local-lvm"
    size         = 4
  }

  initialization {
    hostname = "backup-agent"
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

  network_interface {
    name        = "eth0"
    bridge      = local.bridge
    mac_address = "BC:24:11:02:02:02"
  }

  operating_system {
    template_file_id = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    type             = "debian"
  }

  # PVE keeps no record of the template a container was made from
  lifecycle {
    ignore_changes = [operating_system]
  }
}

resource "proxmox_virtual_environment_container" "tmpl_debian12_ct" {
  node_name     = local.node_c
  vm_id         = 203
  tags          = ["template"]
  started       = false
  start_on_boot = false
  unprivileged  = true
  template      = true

  cpu {
    cores = 1
  }

  memory {
    dedicated = 512
    swap      = 512
  }

  disk {
    datastore_id = "local-lvm"
    size         = 4
  }

  initialization {
    hostname = "tmpl-debian12-ct"
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

  network_interface {
    name        = "eth0"
    bridge      = local.bridge
    mac_address = "BC:24:11:02:03:02"
  }

  operating_system {
    template_file_id = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    type             = "debian"
  }

  # PVE keeps no record of the template a container was made from
  lifecycle {
    ignore_changes = [operating_system]
  }
}

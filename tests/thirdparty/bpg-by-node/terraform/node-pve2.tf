# the guests of pve2

resource "proxmox_virtual_environment_vm" "web_02" {
  name          = "web-02"
  node_name     = local.node_b
  vm_id         = 102
  tags          = ["production", "web"]
  started       = true
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]
  pool_id       = "prod"

  cpu {
    cores   = 2
    sockets = 1
  }

  memory {
    dedicated = 4096
  }

  disk {
    interface    = "scsi0"
    datastore_id = "ceph-vm"
    size         = 32
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:02:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_vm" "monitoring" {
  name          = "monitoring"
  node_name     = local.node_b
  vm_id         = 104
  tags          = ["ops"]
  started       = true
  on_boot       = false
  scsi_hardware = "virtio-scsi-single"
  boot_order    = ["scsi0", "net0"]

  cpu {
    cores   = 2
    sockets = 1
  }

  memory {
    dedicated = 8192
  }

  disk {
    interface    = "scsi0"
    datastore_id = "local-lvm"
    size         = 100
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:04:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_vm" "gitlab_runner" {
  name          = "gitlab-runner"
  node_name     = local.node_b
  vm_id         = 107
  tags          = ["ci"]
  started       = true
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
    datastore_id = "local-lvm"
    size         = 50
    iothread     = true
  }

  network_device {
    bridge      = local.bridge
    model       = "virtio"
    mac_address = "BC:24:11:01:07:01"
    firewall    = true
  }

  operating_system {
    type = "l26"
  }
}

resource "proxmox_virtual_environment_container" "proxy" {
  node_name     = local.node_b
  vm_id         = 201
  tags          = ["infra"]
  started       = true
  start_on_boot = false
  unprivileged  = true

  cpu {
    cores = 2
  }

  memory {
    dedicated = 1024
    swap      = 512
  }

  disk {
    datastore_id = "local-lvm"
    size         = 8
  }

  initialization {
    hostname = "proxy"
    ip_config {
      ipv4 {
        address = "dhcp"
      }
    }
  }

  network_interface {
    name        = "eth0"
    bridge      = local.bridge
    mac_address = "BC:24:11:02:01:02"
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

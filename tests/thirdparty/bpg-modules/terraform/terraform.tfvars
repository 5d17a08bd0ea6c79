pve_endpoint = "https://pve1.homelab.lan:8006/"
pve_insecure = false

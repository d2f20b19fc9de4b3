#!/bin/sh
# udhcpc's hook in the discovery image: configure the lease on the interface.
case "$1" in
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    if [ -n "$router" ]; then route add default gw "${router%% *}" dev "$interface" 2>/dev/null; fi
    ;;
esac
exit 0

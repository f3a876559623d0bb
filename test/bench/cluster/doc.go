// Command cluster is `make bench-cluster`: it starts 3 local dmnode
// processes and measures admin write commit latency (beside the anchor of
// one durable boltdb write on the same disk, in the same run), leader
// failover time (kill -9 to the first successful write) and source failover
// gap (kill -9 of the bound node to the new binding, beside DM's default
// 60 s worker keepalive), with the timeouts given.
package main

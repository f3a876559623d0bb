// Command demo is `make demo`: it starts a MariaDB source and target
// (installing MariaDB if needed), a 3-node dmraft cluster, migrates a sample
// shop database, keeps writing to the source while it shows the target
// following, kills the node the source is bound to, and shows the source
// moving to another node with nothing lost.
package main

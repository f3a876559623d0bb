// Package cmd holds dmraft's two programs: dmnode (cmd/dmnode) runs a node
// of the cluster and dmctl (cmd/dmctl) administers it. They parse flags and
// print results; everything else lives in the packages they call.
package cmd

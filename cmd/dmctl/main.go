// Command dmctl administers a dmraft cluster over gRPC, with DM's command
// names: operate-source, start-task, query-status, list-member, ...
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

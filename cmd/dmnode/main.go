// Command dmnode runs one dmraft node: a Raft member, an executor of the
// sources bound to it, and an admin endpoint for dmctl.
package main

import (
	"os"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

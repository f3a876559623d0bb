package main

import (
	"os"
)

func main() {
	tuneGC()
	if err := rootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

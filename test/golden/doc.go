// Package golden runs scripted scenario tests: each script in testdata
// produces a transcript (the script's lines, each followed by what its step
// printed) that must equal the checked-in .golden file beside it. The
// -rewrite flag regenerates those files; review the diff before committing.
//
// It is test support only, for unit tests (scheduler, shardlock): no
// processes, no network.
package golden

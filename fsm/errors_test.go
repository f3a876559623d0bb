package fsm

import (
	"fmt"
	"testing"
)

func TestHasCode(t *testing.T) {
	err := fmt.Errorf("PUT_SHARD_INFO: %w", ResultError(fail(CodeShardInfoChanged, "changed")))
	if !HasCode(err, CodeShardInfoChanged) || HasCode(err, CodeStaleEpoch) || HasCode(fmt.Errorf("other"), CodeShardInfoChanged) {
		t.Fatalf("HasCode on %v", err)
	}
}

package units

import (
	"fmt"
	"testing"

	"github.com/dmraft/dmraft/fsm"
	pb "github.com/dmraft/dmraft/proto"
)

// A shard info put refused because the view moved on is retried (with the
// current view); other refusals are not.
func TestTransientShardInfoChanged(t *testing.T) {
	changed := fmt.Errorf("register: %w", fsm.ResultError(&pb.ApplyResult{Code: fsm.CodeShardInfoChanged}))
	stale := fmt.Errorf("register: %w", fsm.ResultError(&pb.ApplyResult{Code: fsm.CodeStaleEpoch}))
	if !Transient(changed) || Transient(stale) {
		t.Fatalf("Transient(ShardInfoChanged) = %v, Transient(StaleEpoch) = %v", Transient(changed), Transient(stale))
	}
}

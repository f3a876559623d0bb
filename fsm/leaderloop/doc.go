// Package leaderloop runs a planner on the raft leader, level-triggered: on
// every FSM change and every tick it plans from the current state and
// proposes the planned commands in order, stamping each with the leader's
// time. scheduler.Loop and shardlock.Loop are this loop with their own
// planner and log lines.
//
// It lives under fsm because scheduler and shardlock may import only fsm.
// fsm itself never imports it: this is the one package under fsm that reads
// a clock, and none of it runs inside Apply.
package leaderloop

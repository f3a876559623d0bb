package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dmraft/dmraft/fsm"
	"github.com/dmraft/dmraft/fsm/config"
	pb "github.com/dmraft/dmraft/proto"
)

// OperateSource creates, stops (removes) or shows sources.
func (s *Server) OperateSource(ctx context.Context, req *pb.OperateSourceRequest) (*pb.OperateSourceResponse, error) {
	return atLeader(ctx, s, func(ctx context.Context) (*pb.OperateSourceResponse, error) {
		switch strings.ToLower(req.Op) {
		case "create":
			return s.createSources(ctx, req.Configs)
		case "stop":
			return s.stopSources(ctx, req.SourceIds)
		case "show", "":
			v, err := s.freshView(ctx)
			if err != nil {
				return nil, err
			}
			return &pb.OperateSourceResponse{Sources: sourceStatuses(v, req.SourceIds, "")}, nil
		}
		return nil, invalid(fmt.Errorf("operate-source %q: the operation is one of create, stop, show", req.Op))
	}, func(ctx context.Context, c *grpc.ClientConn) (*pb.OperateSourceResponse, error) {
		return pb.NewAdminClient(c).OperateSource(ctx, req)
	})
}

func (s *Server) createSources(ctx context.Context, texts []string) (*pb.OperateSourceResponse, error) {
	if len(texts) == 0 {
		return nil, invalid(fmt.Errorf("operate-source create needs at least one source.yaml"))
	}
	// Parse everything first: one bad file creates nothing.
	var configs []*pb.SourceConfig
	for i, text := range texts {
		src, err := config.ParseSource([]byte(text))
		if err != nil {
			return nil, invalid(fmt.Errorf("source config #%d: %w", i+1, err))
		}
		cfg, err := src.ToProto(s.secret)
		if err != nil {
			return nil, invalid(fmt.Errorf("source config #%d: %w", i+1, err))
		}
		configs = append(configs, cfg)
	}
	var out []*pb.SourceStatus
	for _, cfg := range configs {
		result := "created"
		cmd := fsm.NewCommand(pb.CommandType_CREATE_SOURCE, &pb.CreateSource{Config: cfg}, 0)
		if _, err := s.propose(ctx, cmd); err != nil {
			// The same source.yaml submitted again (a retry after a lost
			// answer, say) is not an error: the source is there as asked.
			existing, found := s.node.FSM().View().Sources[cfg.SourceId]
			if !isCode(err, fsm.CodeSourceExists) || !found || !proto.Equal(existing.Config, cfg) {
				return nil, err
			}
			result = "exists (unchanged)"
		}
		out = append(out, sourceStatuses(s.node.FSM().View(), []string{cfg.SourceId}, result)...)
	}
	return &pb.OperateSourceResponse{Sources: out}, nil
}

// isCode reports whether err is a business error of the FSM with code.
func isCode(err error, code string) bool {
	var ae *fsm.ApplyError
	return errors.As(err, &ae) && ae.Code == code
}

func (s *Server) stopSources(ctx context.Context, ids []string) (*pb.OperateSourceResponse, error) {
	if len(ids) == 0 {
		return nil, invalid(fmt.Errorf("operate-source stop needs a source id (or the source.yaml it was created from)"))
	}
	v, err := s.freshView(ctx)
	if err != nil {
		return nil, err
	}
	before := sourceStatuses(v, ids, "removed")
	for _, id := range ids {
		if _, found := v.Sources[id]; !found {
			return nil, status.Errorf(codes.NotFound, "source %q does not exist; `dmctl operate-source show` lists the sources", id)
		}
	}
	for _, id := range ids {
		cmd := fsm.NewCommand(pb.CommandType_REMOVE_SOURCE, &pb.RemoveSource{SourceId: id}, 0)
		if _, err := s.propose(ctx, cmd); err != nil {
			return nil, err
		}
	}
	return &pb.OperateSourceResponse{Sources: before}, nil
}

// sourceStatuses lists the given sources (all when ids is empty).
func sourceStatuses(v *fsm.View, ids []string, result string) []*pb.SourceStatus {
	if len(ids) == 0 {
		ids = v.SourceIDs()
	}
	var out []*pb.SourceStatus
	for _, id := range ids {
		src, found := v.Sources[id]
		if !found {
			continue
		}
		st := &pb.SourceStatus{
			SourceId: id, Epoch: src.Epoch, Enabled: src.Enabled, Result: result,
			Host: src.Config.GetHost(), Port: src.Config.GetPort(), Flavor: src.Config.GetFlavor(),
			Tasks: v.TasksUsingSource(id),
		}
		if b, bound := v.Bindings[id]; bound {
			st.Worker, st.Epoch, st.BoundUnixMs = b.Node, b.Epoch, b.BoundUnixMs
		}
		out = append(out, st)
	}
	return out
}

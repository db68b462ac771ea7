package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

// Profiling, a developer's aid (CONTRIBUTING.md, "Profiling the provider"): with
// ENTRANETSKOPE_PROFILE_DIR set, every provider process Terraform starts writes, into that
// directory, cpu-<pid>.pprof (the whole process's CPU profile) and heap-<pid>.pprof (the heap as it
// was at its largest in-use size, sampled every 100 ms), read with `go tool pprof`.
const profileDirEnv = "ENTRANETSKOPE_PROFILE_DIR"

// startProfiles starts what ENTRANETSKOPE_PROFILE_DIR asks for and returns what writes it out.
func startProfiles() (stop func()) {
	dir := os.Getenv(profileDirEnv)
	if dir == "" {
		return func() {}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Printf("%s: %v", profileDirEnv, err)
		return func() {}
	}
	pid := os.Getpid()
	cpu, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", pid)))
	if err == nil {
		err = pprof.StartCPUProfile(cpu)
	}
	if err != nil {
		log.Printf("%s: CPU profile: %v", profileDirEnv, err)
		cpu = nil
	}
	heap := &peakHeap{path: filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", pid)), goroutines: filepath.Join(dir, fmt.Sprintf("goroutine-%d.pprof", pid)), done: make(chan struct{})}
	heap.wg.Add(1)
	go heap.watch()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(heap.done)
			heap.wg.Wait()
			if cpu != nil {
				pprof.StopCPUProfile()
				_ = cpu.Close()
			}
		})
	}
}

// peakHeap writes a heap profile each time the in-use heap passes its largest size so far by a
// tenth: the last one written shows what the process held at its peak.
type peakHeap struct {
	path       string
	goroutines string // the goroutines at the same moment: what holds the heap
	done       chan struct{}
	wg         sync.WaitGroup
}

func (h *peakHeap) watch() {
	defer h.wg.Done()
	var peak uint64
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse <= peak+peak/10 {
			continue
		}
		peak = ms.HeapInuse
		f, err := os.Create(h.path)
		if err != nil {
			continue
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		_ = f.Close()
		if g, err := os.Create(h.goroutines); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(g, 0)
			_ = g.Close()
		}
	}
}

// Command demo is the HTTP server of the demo static pod `make run`
// boots: it answers with the node's name and the time it has been up.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	addr := flag.String("listen", ":80", "address to listen on")
	say := flag.String("say", "", "print this and exit (for kubectl exec)")
	flag.Parse()
	if *say != "" {
		fmt.Println(*say)
		return
	}
	started := time.Now()
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from kiOS node %s: this pod has run for %s\n", host, time.Since(started).Round(time.Second))
	})
	log.Printf("demo: listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}

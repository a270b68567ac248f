// A small S3-compatible HTTPS server for tests: gofakes3 with its bolt backend, so that
// pgBackRest and restic can use an off-host backup repository without any registry or cloud.
// test/support/s3Server.ts builds it (CGO_ENABLED=0, static) and runs it as a one-file image.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3bolt"
)

func main() {
	listen := flag.String("listen", ":443", "address to serve HTTPS on")
	certFile := flag.String("cert", "/tls/cert.pem", "server certificate (PEM, leaf first)")
	keyFile := flag.String("key", "/tls/key.pem", "server private key (PEM)")
	dbFile := flag.String("db", "/data/s3.bolt", "bolt file holding every bucket")
	bucket := flag.String("bucket", "backups", "bucket to create at start if missing")
	accessKey := flag.String("access-key", "", "the only access key accepted (required)")
	verbose := flag.Bool("verbose", false, "log every request (gofakes3's own log)")
	flag.Parse()
	if *accessKey == "" {
		log.Fatal("-access-key is required")
	}

	// bolt rather than s3afero: keys stay flat (an S3 key may be both "a" and the prefix of
	// "a/b", which a directory tree cannot hold), listing a prefix that has no objects yields an
	// empty list rather than NoSuchBucket, and pagination works; the file survives a restart.
	if err := os.MkdirAll(filepath.Dir(*dbFile), 0o700); err != nil {
		log.Fatal(err)
	}
	backend, err := s3bolt.NewFile(*dbFile)
	if err != nil {
		log.Fatal(err)
	}
	// After a restart on the same file the bucket is already there, which is fine.
	if err := backend.CreateBucket(*bucket); err != nil && !gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
		log.Fatal(err)
	}

	options := []gofakes3.Option{gofakes3.WithoutVersioning()}
	if *verbose {
		options = append(options, gofakes3.WithLogger(gofakes3.GlobalLog()))
	}
	s3 := gofakes3.New(backend, options...)

	// Loaded before the port is bound, so that "ready" below also means "the certificate is good".
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:   requireAccessKey(*accessKey, s3.Server()),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}

	// As PID 1 in its container the process gets no default SIGTERM handling: without this,
	// `docker stop` would wait its full timeout and then SIGKILL.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	// Logged once the port is bound: s3Server.ts waits for this line before it returns.
	log.Printf("s3server: ready: bucket %q in %s, https on %s", *bucket, *dbFile, *listen)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// requireAccessKey refuses (403 AccessDenied) any request not signed with accessKey. gofakes3
// verifies no signatures at all; a real check of SigV4 would need the secret and the canonical
// request. For tests it is enough to prove that a client without the key is turned away, so this
// only looks for "Credential=<key>/" in the Authorization header (or the X-Amz-Credential query
// parameter of a presigned URL).
func requireAccessKey(accessKey string, next http.Handler) http.Handler {
	want := "Credential=" + accessKey + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), want) ||
			strings.HasPrefix(r.URL.Query().Get("X-Amz-Credential"), accessKey+"/") {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` +
			`<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
	})
}

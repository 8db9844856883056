package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io/ioutil"
	"net/http"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// uniqueNames makes clones behave as vCenter's do and the simulator's do not: a VM name is
// unique within its folder, and a clone still in progress already holds its name. A second
// CloneVM_Task for a taken name fails at once with DuplicateName.
type uniqueNames struct {
	next     http.Handler
	mu       sync.Mutex
	inFlight map[string]bool
}

type cloneCall struct {
	Body struct {
		Clone *struct {
			Folder struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"folder"`
			Name string `xml:"name"`
		} `xml:"CloneVM_Task"`
	} `xml:"Body"`
}

func newUniqueNames(next http.Handler) *uniqueNames {
	return &uniqueNames{next: next, inFlight: map[string]bool{}}
}

func (u *uniqueNames) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		u.next.ServeHTTP(w, r)
		return
	}
	body, err := ioutil.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	if !bytes.Contains(body, []byte("CloneVM_Task")) {
		u.next.ServeHTTP(w, r)
		return
	}
	var call cloneCall
	if err := xml.Unmarshal(body, &call); err != nil || call.Body.Clone == nil {
		u.next.ServeHTTP(w, r)
		return
	}
	folder := types.ManagedObjectReference{Type: call.Body.Clone.Folder.Type, Value: call.Body.Clone.Folder.Value}
	name := call.Body.Clone.Name
	key := folder.Value + "/" + name

	u.mu.Lock()
	taken := u.inFlight[key] || u.exists(folder, name)
	if !taken {
		u.inFlight[key] = true
	}
	u.mu.Unlock()
	if taken {
		writeDuplicateName(w, folder, name)
		return
	}
	defer func() {
		u.mu.Lock()
		delete(u.inFlight, key)
		u.mu.Unlock()
	}()
	// The simulator runs the clone to its end before answering, so the name is held until then.
	u.next.ServeHTTP(w, r)
}

func (u *uniqueNames) exists(folder types.ManagedObjectReference, name string) bool {
	f, ok := simulator.Map.Get(folder).(*simulator.Folder)
	if !ok {
		return false
	}
	var children []types.ManagedObjectReference
	simulator.Map.WithLock(f, func() { children = append(children, f.ChildEntity...) })
	return simulator.Map.FindByName(name, children) != nil
}

func writeDuplicateName(w http.ResponseWriter, folder types.ManagedObjectReference, name string) {
	esc := func(text string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(text))
		return b.String()
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The name &apos;%s&apos; already exists.</faultstring><detail><DuplicateNameFault xmlns="urn:vim25" xsi:type="DuplicateName"><name>%s</name><object type="%s">%s</object></DuplicateNameFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
		esc(name), esc(name), esc(folder.Type), esc(folder.Value))
}

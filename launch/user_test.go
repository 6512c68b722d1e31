package launch

import (
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/yarngate/yarngate/flink"
	"github.com/yarngate/yarngate/yarnclient"
)

// TestLaunchAsUser: a launch for another user is created and submitted as that user, its launch files are
// written as that user, HADOOP_USER_NAME names that user, and the shared directories (launch files, job
// archives, HA data) are made world-writable with the sticky bit, as the gateway; a launch for the
// gateway's own user acts as the gateway throughout and leaves the directories alone.
func TestLaunchAsUser(t *testing.T) {
	for _, tc := range []struct{ user, wantAs, wantEnvUser string }{
		{user: "alice", wantAs: "alice", wantEnvUser: "alice"},
		{user: "", wantAs: "", wantEnvUser: "yarngate"},
		{user: "yarngate", wantAs: "", wantEnvUser: "yarngate"},
	} {
		t.Run("user "+tc.user, func(t *testing.T) {
			files, rm := &stagingFiles{}, &submitRM{known: true}
			l, err := New(Options{RM: rm, Files: files, Jars: stagedJar{}, FlinkHomes: []string{fakeFlinkHome(t, "2.2.1")},
				FlinkLibRoot: "/flink-libs", User: "yarngate", StagingRoot: "/staging", Logger: slog.New(slog.DiscardHandler),
				HA: &HA{Quorum: "zk:2181", PathRoot: "/flink", StorageDir: "hdfs://nn:8020/staging/ha"}})
			if err != nil {
				t.Fatal(err)
			}
			p, err := l.Prepare(t.Context(), Spec{Kind: Job, Name: "sum", Target: "application", JarID: strings.Repeat("ab", 32),
				JobManagerMemory: "1024m", TaskManagerMemory: "1024m", User: tc.user})
			if err != nil {
				t.Fatal(err)
			}
			na, err := l.NewApplication(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Submit(t.Context(), p, na); err != nil {
				t.Fatal(err)
			}
			appDir := "/staging/.flink/" + na.ApplicationID
			if rm.newAs != tc.wantAs || rm.submittedAs != tc.wantAs {
				t.Errorf("new application as %q, submitted as %q; want %q", rm.newAs, rm.submittedAs, tc.wantAs)
			}
			if files.as[appDir] != tc.wantAs || files.as[appDir+"/config.yaml"] != tc.wantAs {
				t.Errorf("launch files made as %q, config.yaml as %q; want %q", files.as[appDir], files.as[appDir+"/config.yaml"], tc.wantAs)
			}
			if got := rm.submitted.AMContainerSpec.Environment[flink.EnvHadoopUserName]; got != tc.wantEnvUser {
				t.Errorf("HADOOP_USER_NAME %q, want %q", got, tc.wantEnvUser)
			}
			acls := rm.submitted.AMContainerSpec.ApplicationACLs
			if granted := len(acls) == 2 && acls[yarnclient.ACLViewApp] == "yarngate" && acls[yarnclient.ACLModifyApp] == "yarngate"; granted != (tc.wantAs != "") {
				t.Errorf("application ACLs %v; the gateway granted access %v, want %v", acls, granted, tc.wantAs != "")
			}
			for _, dir := range []string{"/staging/.flink", "/staging/archive", "/staging/ha"} {
				shared := files.modes[dir] == fs.ModeSticky|0o777 && files.as[dir] == ""
				if shared != (tc.wantAs != "") {
					t.Errorf("%s: mode %v made as %q; shared %v, want %v", dir, files.modes[dir], files.as[dir], shared, tc.wantAs != "")
				}
			}
		})
	}
}

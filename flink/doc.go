// Package flink turns a request to run a Flink program into what YARN needs to launch a Flink
// cluster, the way Flink's own YarnClusterDescriptor does, without Java or a Flink client:
//
//   - Dist describes a local Flink distribution (lib/, plugins/, conf/) and its version.
//   - UploadDist copies a distribution's lib/ and plugins/ (and conf/log4j.properties) to a shared,
//     versioned, content-addressed and world-readable directory through the small FileSystem
//     interface, once; ProvidedLibs lists the uploaded files with their exact size and modification
//     time, as Flink's yarn.provided.lib.dirs mode registers them (PUBLIC local resources).
//   - NewPlan builds, from a LaunchSpec, the Flink configuration file (flink-conf.yaml or
//     config.yaml, see Version.ConfigFileName), the JobManager command with the JVM memory flags
//     that Flink's JobManagerProcessUtils derives, the ApplicationMaster environment and the
//     local resources; Plan.Submission turns it into a *yarnclient.SubmissionContext once the
//     configuration file has been staged.
//   - CheckFlinkConfig holds a request's configuration against the one table of keys a request may not
//     set (surface.go): keys whose values reach the containers' launch scripts as shell code, and keys the
//     gateway relies on; NewPlan refuses them too, and the shell rows whoever set them.
//
// The package does no YARN calls and no HTTP; it depends on yarnclient only for the submission
// types. File system access goes through FileSystem, which callers adapt (for example over HDFS).
//
// Facts used here come from the Flink sources of 1.20 and 2.2 (flink-yarn YarnClusterDescriptor,
// YarnApplicationFileUploader, Utils, YarnConfigKeys, YarnLocalResourceDescriptor, YarnLogConfigUtil,
// entrypoint/YarnEntrypointUtils; flink-runtime JobManagerProcessUtils, ProcessMemoryUtils; flink-core
// GlobalConfiguration, ConfigurationUtils), cited where used.
package flink

# frozen_string_literal: true

# Loads a rendered mathesar.rb against a small stand-in for Homebrew's Formula DSL, once per
# OS/architecture, and checks what brew would do with it, without Homebrew or macOS:
#
#   ruby formula_harness.rb FORMULA EXPECTED_JSON WORKDIR
#
# EXPECTED_JSON: {"version", "python", "postgresql",
#                 "platforms": [{"os": "macos"|"linux", "arch": "arm"|"intel",
#                                "url", "sha256", "tarball"}],
#                 "run_test": {"os", "arch", "python"}  (optional)}
# For every platform the harness checks url and sha256, the dependencies, the service,
# caveats, test and post_install blocks; runs install on the unpacked tarball into
# WORKDIR/<os>-<arch>/Cellar/mathesar/<version> (Homebrew's layout); and runs post_install
# twice against a recording `system`, which must record the same, non-destructive setup
# call both times. With run_test, it also runs the formula's test block on that platform's
# keg (the tarball's launcher must run on this machine). It prints {"<os>-<arch>": keg} as
# JSON and exits 1 on any failure.
#
# The selected platform comes from HARNESS_OS and HARNESS_ARCH, as on_macos/on_linux and
# on_arm/on_intel are decided when the formula class is defined; the harness sets them
# before each load.

require "fileutils"
require "json"
require "open3"
require "pathname"
require "tmpdir"

# Homebrew's Pathname extensions the formula's install uses.
class Pathname
  # Moves sources into this directory, as Homebrew's Pathname#install does.
  def install(*sources)
    mkpath
    sources.flatten.each do |src|
      src = Pathname(src)
      raise "install: #{src} does not exist (in #{Dir.pwd})" unless src.exist? || src.symlink?

      FileUtils.mv(src, self/src.basename)
    end
  end

  # Makes relative symlinks in this directory, as Homebrew's Pathname#install_symlink does.
  def install_symlink(*targets)
    mkpath
    targets.flatten.each do |target|
      target = Pathname(target)
      raise "install_symlink: #{target} does not exist" unless target.exist?

      File.symlink(target.relative_path_from(self), self/target.basename)
    end
  end
end

module Harness
  module_function

  def os = ENV.fetch("HARNESS_OS")
  def arch = ENV.fetch("HARNESS_ARCH")
  def root = Pathname(ENV.fetch("HARNESS_ROOT"))
end

# Another formula named in Formula["..."].
Dependency = Struct.new(:name) do
  def opt_bin = Harness.root/"opt"/name/"bin"
end

# Records what a `service do` block sets.
class ServiceRecorder
  attr_reader :settings

  def initialize(formula)
    @formula = formula
    @settings = {}
  end

  %i[run keep_alive working_dir log_path error_log_path environment_variables].each do |key|
    define_method(key) { |value| @settings[key] = value }
  end

  def std_service_path_env = "#{Harness.root}/bin:#{Harness.root}/sbin:/usr/bin:/bin:/usr/sbin:/sbin"

  %i[opt_bin opt_prefix var etc bin libexec].each do |m|
    define_method(m) { @formula.public_send(m) }
  end
end

class Formula
  include FileUtils

  class << self
    attr_reader :urls, :sha256s, :deps, :service_block, :test_block, :fields

    def inherited(sub)
      super
      sub.instance_variable_set(:@urls, [])
      sub.instance_variable_set(:@sha256s, [])
      sub.instance_variable_set(:@deps, [])
      sub.instance_variable_set(:@fields, {})
    end

    %i[desc homepage version license].each do |key|
      define_method(key) { |value = nil| value.nil? ? @fields[key] : (@fields[key] = value) }
    end

    def url(value) = @urls << value
    def sha256(value) = @sha256s << value
    def depends_on(spec) = @deps << spec
    def on_macos = (yield if Harness.os == "macos")
    def on_linux = (yield if Harness.os == "linux")
    def on_arm = (yield if Harness.arch == "arm")
    def on_intel = (yield if Harness.arch == "intel")
    def service(&block) = (@service_block = block)
    def test(&block) = (@test_block = block)

    def [](name) = Dependency.new(name)
  end

  attr_reader :system_calls

  def initialize
    @system_calls = []
  end

  def name = "mathesar"
  def version = self.class.version
  def prefix = Harness.root/"Cellar"/name/version
  def bin = prefix/"bin"
  def libexec = prefix/"libexec"
  def doc = prefix/"share/doc"/name
  def man1 = prefix/"share/man/man1"
  def bash_completion = prefix/"etc/bash_completion.d"
  def zsh_completion = prefix/"share/zsh/site-functions"
  def fish_completion = prefix/"share/fish/vendor_completions.d"
  def opt_prefix = Harness.root/"opt"/name
  def opt_bin = opt_prefix/"bin"
  def etc = Harness.root/"etc"
  def var = Harness.root/"var"
  def testpath = (@testpath ||= Pathname(Dir.mktmpdir("mathesar-brew-test")))

  # Homebrew's with_env: the variables for the block only.
  def with_env(vars)
    old = vars.to_h { |k, _| [k.to_s, ENV.fetch(k.to_s, nil)] }
    vars.each { |k, v| ENV[k.to_s] = v.to_s }
    yield
  ensure
    old&.each { |k, v| ENV[k] = v }
  end

  # Records instead of running, with the environment the command would get from Mathesar's
  # point of view; in the test block it runs for real (see run_test).
  def system(cmd, *args)
    if @run_for_real
      out, status = Open3.capture2e(cmd.to_s, *args.map(&:to_s))
      raise "test: #{cmd} #{args.join(" ")} failed:\n#{out}" unless status.success?

      return true
    end
    env = ENV.to_h.select { |k, _| k.start_with?("MATHESAR_") || k == "PATH" }
    @system_calls << { "argv" => [cmd.to_s, *args.map(&:to_s)], "env" => env }
    true
  end

  def shell_output(cmd)
    out, status = Open3.capture2e(cmd)
    raise "test: #{cmd} failed:\n#{out}" unless status.success?

    out
  end

  def assert_match(pattern, text)
    re = pattern.is_a?(Regexp) ? pattern : Regexp.new(Regexp.escape(pattern))
    raise "test: #{text.inspect} does not match #{re.inspect}" unless re.match?(text)
  end

  def run_test
    @run_for_real = true
    saved = ENV.to_h
    instance_eval(&self.class.test_block)
  ensure
    ENV.replace(saved)
    @run_for_real = false
  end
end

# Setup flags that cannot replace an existing config or data: anything else (a connection
# string, say) would rewrite the database settings on every upgrade.
SAFE_SETUP_FLAGS = %w[--quiet -q --allow-missing-postgres].freeze

def check(failures, label, ok, message)
  failures << "#{label}: #{message}" unless ok
end

def load_formula(path)
  sandbox = Module.new
  sandbox.module_eval(File.read(path), path)
  sandbox.const_get(:Mathesar)
end

def check_platform(formula_path, expected, plat, workdir, failures)
  label = "#{plat["os"]}/#{plat["arch"]}"
  ENV["HARNESS_OS"] = plat["os"]
  ENV["HARNESS_ARCH"] = plat["arch"]
  root = Pathname(workdir)/"#{plat["os"]}-#{plat["arch"]}"
  ENV["HARNESS_ROOT"] = root.to_s
  klass = load_formula(formula_path)

  check(failures, label, klass.urls == [plat["url"]], "url #{klass.urls.inspect}, want [#{plat["url"]}]")
  check(failures, label, klass.sha256s == [plat["sha256"]], "sha256 #{klass.sha256s.inspect}, want [#{plat["sha256"]}]")
  check(failures, label, klass.version == expected["version"], "version #{klass.version.inspect}, want #{expected["version"]}")
  %W[python@#{expected["python"]} postgresql@#{expected["postgresql"]}].each do |dep|
    check(failures, label, klass.deps.include?(dep), "no depends_on #{dep.inspect} (has #{klass.deps.inspect})")
  end
  %i[desc homepage license].each do |key|
    check(failures, label, !klass.fields[key].to_s.empty?, "no #{key}")
  end
  check(failures, label, !klass.test_block.nil?, "no test block")
  check(failures, label, klass.method_defined?(:post_install), "no post_install")

  f = klass.new
  caveats = f.respond_to?(:caveats) ? f.caveats.to_s : ""
  check(failures, label, caveats.include?("http://localhost:8000/"), "caveats do not give http://localhost:8000/")

  if klass.service_block.nil?
    check(failures, label, false, "no service block")
  else
    rec = ServiceRecorder.new(f)
    rec.instance_eval(&klass.service_block)
    s = rec.settings
    check(failures, label, s[:run] == [f.opt_bin/"mathesar", "run"], "service runs #{s[:run].inspect}")
    check(failures, label, s[:keep_alive] == true, "service keep_alive is #{s[:keep_alive].inspect}")
    check(failures, label, s[:working_dir] == f.var/"mathesar", "service working_dir #{s[:working_dir]}")
    %i[log_path error_log_path].each do |key|
      check(failures, label, s[key].to_s.start_with?("#{f.var}/log/"), "service #{key} #{s[key]} is not under var/log")
    end
  end

  # install, in the unpacked tarball's top directory as brew does.
  stage = Pathname(Dir.mktmpdir("mathesar-stage"))
  begin
    out, status = Open3.capture2e("tar", "-xzf", plat["tarball"], "-C", stage.to_s)
    raise "unpack #{plat["tarball"]}: #{out}" unless status.success?

    Dir.chdir(stage/"mathesar") { f.install }
  ensure
    FileUtils.rm_rf(stage)
  end
  keg = f.prefix
  {
    "libexec/bin/mathesar"                       => :executable?,
    "libexec/lib/mathesar/mathesar.pyz"          => :file?,
    "bin/mathesar"                               => :executable?,
    "etc/bash_completion.d/mathesar"             => :file?,
    "share/zsh/site-functions/_mathesar"         => :file?,
    "share/fish/vendor_completions.d/mathesar.fish" => :file?,
    "share/man/man1/mathesar.1.gz"               => :file?,
    "share/doc/mathesar/LICENSE"                 => :file?,
  }.each do |rel, test|
    check(failures, label, (keg/rel).public_send(test), "install left no #{rel} in the keg")
  end
  if (keg/"bin/mathesar").symlink?
    check(failures, label, (keg/"bin/mathesar").realpath == (keg/"libexec/bin/mathesar").realpath,
          "bin/mathesar does not lead to libexec/bin/mathesar")
  else
    check(failures, label, false, "bin/mathesar is not a symlink into libexec")
  end
  # Homebrew links the keg as opt/mathesar before post_install and the service run.
  f.opt_prefix.dirname.mkpath
  File.symlink(keg, f.opt_prefix) unless f.opt_prefix.exist?

  # post_install, twice: the same call, and nothing that could overwrite.
  2.times { f.post_install }
  calls = f.system_calls
  check(failures, label, calls.length == 2, "post_install ran system #{calls.length} times in two runs, want once per run")
  if calls.length == 2
    check(failures, label, calls[0] == calls[1], "post_install's second run differs: #{calls[0].inspect} then #{calls[1].inspect}")
    argv = calls[0]["argv"]
    check(failures, label, [f.bin/"mathesar", f.opt_bin/"mathesar"].map(&:to_s).include?(argv[0]),
          "post_install runs #{argv[0]}, not the keg's mathesar")
    check(failures, label, argv[1] == "setup", "post_install runs #{argv[1..].inspect}, want setup")
    unsafe = argv[2..].to_a - SAFE_SETUP_FLAGS
    check(failures, label, unsafe.empty?, "post_install passes #{unsafe.inspect} to setup, which could overwrite config or data")
    env = calls[0]["env"]
    %w[MATHESAR_CONFIG MATHESAR_DATA_DIR].each do |k|
      check(failures, label, !env.key?(k), "post_install sets #{k}: the launcher finds etc and var from the keg itself")
    end
  end

  rt = expected["run_test"]
  if rt && rt["os"] == plat["os"] && rt["arch"] == plat["arch"]
    python = Dependency.new("python@#{expected["python"]}").opt_bin/"python#{expected["python"]}"
    python.dirname.mkpath
    File.symlink(rt["python"], python) unless python.exist?
    begin
      f.run_test
    rescue StandardError => e
      check(failures, label, false, e.message)
    end
  end
  keg
end

formula_path, expected_path, workdir = ARGV
abort "usage: ruby #{$PROGRAM_NAME} FORMULA EXPECTED_JSON WORKDIR" if workdir.nil?
expected = JSON.parse(File.read(expected_path))
failures = []
kegs = {}
expected.fetch("platforms").each do |plat|
  kegs["#{plat["os"]}-#{plat["arch"]}"] = check_platform(formula_path, expected, plat, workdir, failures).to_s
rescue StandardError => e
  failures << "#{plat["os"]}/#{plat["arch"]}: #{e.class}: #{e.message}"
end
puts JSON.generate(kegs)
unless failures.empty?
  warn failures.join("\n")
  exit 1
end

#!/usr/bin/perl
# Generates test/fixtures/srs-vectors.json with Mail::SRS (Debian libmail-srs-perl), the reference
# SRS implementation by Shevek, so outpost's src/srs is checked against code it did not write.
# Run: perl test/unit/srs/make-vectors.pl > test/fixtures/srs-vectors.json
use strict;
use warnings;

# Mail::SRS reads the clock with time(); each vector sets it, so the output is reproducible.
our $NOW = 0;
BEGIN { *CORE::GLOBAL::time = sub () { return $NOW; }; }

use Mail::SRS;
use JSON::PP;

my $DAY = 86400;
my @forward;
my @reverse;

sub srs { return Mail::SRS->new(Secret => $_[0], MaxAge => 21, HashLength => 4); }

sub forward_case {
  my ($sender, $domain, $secret, $time) = @_;
  local $NOW = $time;
  my $out = srs($secret)->forward($sender, $domain);
  push @forward, { sender => $sender, forwarder => $domain, secret => $secret, now => $time, expected => $out };
  return $out;
}

sub reverse_case {
  my ($address, $secret, $time, $note) = @_;
  local $NOW = $time;
  my $result = eval { srs($secret)->reverse($address) };
  my $error = $@;
  $error =~ s/ at \S+ line \d+\.?\n?$//s if $error;
  push @reverse, {
    address => $address, secret => $secret, now => $time, note => $note,
    ($error ? (error => $error) : (expected => $result)),
  };
}

my $t0 = 1_700_000_000;           # 2023-11-14
my $wrap = 1023 * $DAY + 3600;     # day 1023: the last slot before the 1024-day cycle wraps
my @times = ($t0, $t0 + 17 * $DAY, $wrap, 1024 * $DAY + 7200, 0);

for my $time (@times) {
  forward_case('alice@example.com', 'forwarder.example', 'shh, a secret', $time);
}
forward_case('Alice.Smith@Example.COM', 'Forwarder.Example', 'another secret', $t0);
forward_case('bob+tag@sub.example.org', 'fwd.example.net', 'k3y', $t0);
forward_case('odd=local=part@example.com', 'fwd.example.net', 'k3y', $t0);
forward_case('henry@example.com', 'fwd.example', ['current secret', 'old secret'], $t0);
forward_case('carol@forwarder.example', 'forwarder.example', 'k3y', $t0);

# Forwarding an address another forwarder already rewrote.
my $srs0 = forward_case('dave@origin.example', 'first.example', 'first secret', $t0);
my $srs1 = forward_case($srs0, 'second.example', 'second secret', $t0 + $DAY);
forward_case($srs1, 'third.example', 'third secret', $t0 + 2 * $DAY);
forward_case('srs0+HHHH=TT=origin.example=erin@first.example', 'second.example', 'second secret', $t0);

# Reversing (a secret may be a list, newest first, as when secrets rotate): fresh, at the edge of MaxAge, past it, across the wrap, tampered, case-smashed.
my $fresh = forward_case('frank@example.com', 'fwd.example', 'rev secret', $t0);
reverse_case($fresh, 'rev secret', $t0, 'same day');
reverse_case($fresh, 'rev secret', $t0 + 21 * $DAY, '21 days later: still valid');
reverse_case($fresh, 'rev secret', $t0 + 22 * $DAY, '22 days later: expired');
reverse_case($fresh, 'rev secret', $t0 - $DAY, 'a timestamp from tomorrow: out of date');
reverse_case($fresh, 'wrong secret', $t0, 'another secret');
reverse_case(lc $fresh, 'rev secret', $t0, 'case smashed by a remote MTA');
(my $tampered = $fresh) =~ s/=frank\@/=mallory\@/;
reverse_case($tampered, 'rev secret', $t0, 'local part changed');
my $late = forward_case('grace@example.com', 'fwd.example', 'rev secret', $wrap);
reverse_case($late, 'rev secret', $wrap + 5 * $DAY, 'five days after the cycle wrapped');
reverse_case($srs1, 'second secret', $t0 + 30 * $DAY, 'SRS1 has no timestamp: reverses to the SRS0 address');
reverse_case($srs1, 'first secret', $t0 + $DAY, 'SRS1 hash made with another secret');
reverse_case($fresh, ['a newer secret', 'rev secret'], $t0, 'made with the older of two secrets (rotation)');
reverse_case('SRS0=abc=AB=example.com=x@fwd.example', 'rev secret', $t0, 'hash too short');
reverse_case('plain@fwd.example', 'rev secret', $t0, 'not an SRS address');

my $vectors = {
  tool => 'Mail::SRS (Debian libmail-srs-perl ' . `dpkg-query -W -f='\${Version}' libmail-srs-perl` . '), Mail::SRS::Guarded, HashLength 4, MaxAge 21',
  version => $Mail::SRS::VERSION,
  generator => 'test/unit/srs/make-vectors.pl',
  time_unit => 'now is in Unix seconds',
  forward => \@forward,
  reverse => \@reverse,
};
print JSON::PP->new->canonical->pretty->encode($vectors);

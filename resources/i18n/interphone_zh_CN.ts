<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>Announcer</name>
    <message>
        <location filename="../../app/ui/announcer.py" line="81"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="82"/>
        <source>Busy: someone else is speaking</source>
        <translation>占线：他人正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="89"/>
        <source>Denied: %1</source>
        <translation>被拒绝：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="90"/>
        <source>Denied</source>
        <translation>被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="92"/>
        <source>Nobody is speaking: you may talk</source>
        <translation>无人讲话：你可以讲话了</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="99"/>
        <source>Talk</source>
        <translation>讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="104"/>
        <source>Talking. Press again to stop.</source>
        <translation>正在讲话。再按一次停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/announcer.py" line="109"/>
        <source>Stopped talking.</source>
        <translation>已停止讲话。</translation>
    </message>
</context>
<context>
    <name>AudioBar</name>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="103"/>
        <location filename="../../app/ui/audio_bar.py" line="104"/>
        <location filename="../../app/ui/audio_bar.py" line="106"/>
        <source>Microphone level</source>
        <translation>麦克风电平</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="105"/>
        <location filename="../../app/ui/audio_bar.py" line="107"/>
        <location filename="../../app/ui/audio_bar.py" line="108"/>
        <source>Speaker level</source>
        <translation>扬声器电平</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="109"/>
        <location filename="../../app/ui/audio_bar.py" line="110"/>
        <source>Output volume</source>
        <translation>输出音量</translation>
    </message>
    <message>
        <location filename="../../app/ui/audio_bar.py" line="111"/>
        <location filename="../../app/ui/audio_bar.py" line="112"/>
        <source>Mute the speaker</source>
        <translation>扬声器静音</translation>
    </message>
</context>
<context>
    <name>DesktopNotifications</name>
    <message>
        <location filename="../../app/ui/desktop_notifications.py" line="177"/>
        <source>Show</source>
        <translation>显示</translation>
    </message>
</context>
<context>
    <name>DeviceErrorText</name>
    <message>
        <location filename="../../app/ui/failure_text.py" line="216"/>
        <source>%1 (%2).</source>
        <translation>%1（%2）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="217"/>
        <source>%1.</source>
        <translation>%1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="223"/>
        <source>%1 Check the device, then press Refresh in the settings.</source>
        <translation>%1请检查设备，然后在设置中按“刷新”。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="233"/>
        <source>No microphone was found</source>
        <translation>未找到麦克风</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="234"/>
        <source>No speakers or headphones were found</source>
        <translation>未找到扬声器或耳机</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="236"/>
        <source>No audio device was found</source>
        <translation>未找到音频设备</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="239"/>
        <source>The computer&apos;s audio system is not available</source>
        <translation>本机的音频系统不可用</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="243"/>
        <source>The audio device “%1” cannot record: it has no input</source>
        <translation>音频设备“%1”无法录音：它没有输入</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="245"/>
        <source>The audio device “%1” cannot play sound: it has no output</source>
        <translation>音频设备“%1”无法播放声音：它没有输出</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="258"/>
        <source>The audio device “%1” was not found</source>
        <translation>未找到音频设备“%1”</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="261"/>
        <source>The audio device “%1” has no usable channels</source>
        <translation>音频设备“%1”没有可用的声道</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="266"/>
        <source>The audio device “%1” is busy or unavailable: another program may be using it</source>
        <translation>音频设备“%1”正忙或不可用：可能有其他程序正在使用它</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="271"/>
        <source>The audio device “%1” was unplugged or stopped working</source>
        <translation>音频设备“%1”已被拔出或停止工作</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="276"/>
        <source>The audio device “%1” does not accept the sound settings (sample rate, format or buffer size)</source>
        <translation>音频设备“%1”不接受当前的声音设置（采样率、格式或缓冲区大小）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="283"/>
        <source>The audio device “%1” was already closed</source>
        <translation>音频设备“%1”已关闭</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="249"/>
        <source>The audio device “%1” failed</source>
        <translation>音频设备“%1”出错</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="259"/>
        <source>The audio device was not found</source>
        <translation>未找到该音频设备</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="263"/>
        <source>The audio device has no usable channels</source>
        <translation>该音频设备没有可用的声道</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="268"/>
        <source>The audio device is busy or unavailable: another program may be using it</source>
        <translation>音频设备正忙或不可用：可能有其他程序正在使用它</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="273"/>
        <source>The audio device was unplugged or stopped working</source>
        <translation>音频设备已被拔出或停止工作</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="279"/>
        <source>The audio device does not accept the sound settings (sample rate, format or buffer size)</source>
        <translation>音频设备不接受当前的声音设置（采样率、格式或缓冲区大小）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="285"/>
        <source>The audio stream was already closed</source>
        <translation>音频流已关闭</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="250"/>
        <source>The audio device failed</source>
        <translation>音频设备出错</translation>
    </message>
</context>
<context>
    <name>EmergencyBanner</name>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="110"/>
        <source>Cancel emergency</source>
        <translation>取消紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="111"/>
        <source>Silence</source>
        <translation>停止警报音</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="112"/>
        <source>Stop the alarm for you only: the emergency stays raised</source>
        <translation>仅为您停止警报：紧急呼叫仍然有效</translation>
    </message>
</context>
<context>
    <name>EngineAudio</name>
    <message>
        <location filename="../../app/ui/audio_link.py" line="261"/>
        <source>Simulated audio (no sound card)</source>
        <translation>模拟音频（无声卡）</translation>
    </message>
</context>
<context>
    <name>FailureText</name>
    <message>
        <location filename="../../app/ui/failure_text.py" line="39"/>
        <source>%1 (%2)</source>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="49"/>
        <source>permission denied</source>
        <translation>没有权限</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="51"/>
        <source>the file system is read-only</source>
        <translation>文件系统是只读的</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="52"/>
        <source>the disk is full</source>
        <translation>磁盘已满</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="53"/>
        <source>the disk quota is exceeded</source>
        <translation>已超出磁盘配额</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="54"/>
        <source>no such file or folder</source>
        <translation>找不到该文件或文件夹</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="55"/>
        <source>a part of the path is not a folder</source>
        <translation>路径中有一部分不是文件夹</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="63"/>
        <source>the connection was refused (no server on this port?)</source>
        <translation>连接被拒绝（此端口上没有服务器？）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="65"/>
        <source>the connection was reset</source>
        <translation>连接被重置</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="67"/>
        <source>no answer in time</source>
        <translation>超时无应答</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="69"/>
        <source>no route to the host</source>
        <translation>无法路由到该主机</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="71"/>
        <source>the network is unreachable</source>
        <translation>网络不可达</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="73"/>
        <source>unknown host name</source>
        <translation>未知的主机名</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="99"/>
        <source>Cannot reach %1: %2.</source>
        <translation>无法连接 %1：%2。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="102"/>
        <source>Cannot reach %1: no answer within %2 s.</source>
        <translation>无法连接 %1：%2 秒内无应答。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="105"/>
        <source>Encrypted connection to %1: %2</source>
        <translation>与 %1 的加密连接：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="108"/>
        <source>The server did not answer within %1 s.</source>
        <translation>服务器在 %1 秒内没有应答。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="158"/>
        <source>The server answered with error %1.</source>
        <translation>服务器返回错误 %1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="160"/>
        <source>The server answered with error %1: %2</source>
        <translation>服务器返回错误 %1：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="117"/>
        <source>You left the line: your turn did not come in time.</source>
        <translation>已退出排队：等待时间过长，仍未轮到你。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="86"/>
        <source>no answer within %1 s</source>
        <translation>%1 秒内无应答</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="113"/>
        <source>The server cannot reach its database; try again in a moment.</source>
        <translation>服务器暂时无法连接其数据库，请稍后再试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="119"/>
        <source>You left the line: someone with priority took your place.</source>
        <translation>已退出排队：你的位置被优先级更高的用户占用。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="121"/>
        <source>You left the line.</source>
        <translation>已退出排队。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="123"/>
        <source>The server answered with TLS: this port requires an encrypted connection.</source>
        <translation>服务器以 TLS 应答：此端口需要加密连接。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="126"/>
        <source>The server closed the connection before any answer (it may require an encrypted connection).</source>
        <translation>服务器未作任何应答就关闭了连接（它可能需要加密连接）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="129"/>
        <source>The connection to the server was lost.</source>
        <translation>与服务器的连接已断开。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="131"/>
        <source>The server sent an answer this program cannot read.</source>
        <translation>服务器发送了本程序无法读取的应答。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="133"/>
        <source>Not connected to the server.</source>
        <translation>未连接到服务器。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="135"/>
        <source>Join an interphone first.</source>
        <translation>请先加入一个对讲。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="146"/>
        <source>The server did not accept the request</source>
        <translation>服务器不接受该请求</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="147"/>
        <source>Not signed in, or the sign-in was refused</source>
        <translation>未登录，或登录被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="149"/>
        <source>Not allowed</source>
        <translation>不允许</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="150"/>
        <source>You are not in that interphone</source>
        <translation>你不在该对讲中</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="151"/>
        <source>Someone else is speaking</source>
        <translation>其他人正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="152"/>
        <source>The request is too large</source>
        <translation>请求过大</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="153"/>
        <source>Too many requests: wait a moment</source>
        <translation>请求过于频繁：请稍候</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="154"/>
        <source>The server had a fault</source>
        <translation>服务器出现故障</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="163"/>
        <source>%1 (error %2).</source>
        <translation>%1（错误 %2）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="164"/>
        <source>%1 (error %2): %3</source>
        <translation>%1（错误 %2）：%3</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="171"/>
        <source>the certificate is not the one you accepted: the server presented %1</source>
        <translation>证书与你之前接受的不一致：服务器出示的是 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="174"/>
        <source>the certificate&apos;s issuer is unknown (%1)</source>
        <translation>证书的签发者未知（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="176"/>
        <source>the certificate is for another name (%1)</source>
        <translation>证书上的名称与服务器地址不符（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="178"/>
        <source>the certificate was refused (%1)</source>
        <translation>证书被拒绝（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="180"/>
        <source>no TLS version in common with the server (%1)</source>
        <translation>与服务器没有共同支持的 TLS 版本（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="182"/>
        <source>the handshake failed (%1)</source>
        <translation>握手失败（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="188"/>
        <source>the certificate is not the one you accepted</source>
        <translation>证书与你之前接受的不一致</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="190"/>
        <source>the server sent no certificate</source>
        <translation>服务器没有发送证书</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="192"/>
        <source>the certificate has expired</source>
        <translation>证书已过期</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="194"/>
        <source>the certificate is not valid yet (check this computer&apos;s clock)</source>
        <translation>证书尚未生效（请检查本机时钟）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="196"/>
        <source>the server does not speak TLS on this port</source>
        <translation>服务器在此端口上不支持 TLS</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="198"/>
        <source>the server does not speak TLS on this port (it answers in plain text: sign in without encryption)</source>
        <translation>服务器在此端口上不支持 TLS（它以明文应答：请不加密登录）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="201"/>
        <source>the server closed the connection during the handshake (it may not speak TLS on this port: try without encryption)</source>
        <translation>服务器在握手期间关闭了连接（它可能在此端口上不支持 TLS：请尝试不加密连接）</translation>
    </message>
    <message>
        <location filename="../../app/ui/failure_text.py" line="204"/>
        <source>the handshake timed out</source>
        <translation>握手超时</translation>
    </message>
</context>
<context>
    <name>FloorText</name>
    <message>
        <location filename="../../app/ui/floor_text.py" line="16"/>
        <source>Your turn ended: the talk time limit was reached.</source>
        <translation>你的讲话已结束：已达到讲话时长上限。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="18"/>
        <source>Your turn ended: nothing was heard from you for too long.</source>
        <translation>你的讲话已结束：长时间没有收到你的声音。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="21"/>
        <source>Your turn was taken over by %1 (higher priority).</source>
        <translation>你的讲话已被 %1 接管（优先级更高）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="23"/>
        <source>Your turn was taken over by a higher priority.</source>
        <translation>你的讲话已被更高优先级的用户接管。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="25"/>
        <source>Your turn ended: the server is shutting down.</source>
        <translation>你的讲话已结束：服务器正在关闭。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="27"/>
        <source>Your turn ended: the connection was lost.</source>
        <translation>你的讲话已结束：连接已断开。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="29"/>
        <source>You waited too long and left the line. Press again to ask.</source>
        <translation>等待时间过长，已退出排队。请再次按键申请。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="30"/>
        <source>The server ended your turn to talk.</source>
        <translation>服务器已结束你的讲话。</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="38"/>
        <source>You may not talk here</source>
        <translation>你无权在此讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="40"/>
        <source>Too many requests; try again in a moment</source>
        <translation>请求过多，请稍后再试</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="42"/>
        <source>The server cannot reach its database; try again in a moment</source>
        <translation>服务器暂时无法连接其数据库，请稍后再试</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="48"/>
        <source>The server could not take your request: %1</source>
        <translation>服务器暂时无法处理你的请求：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="50"/>
        <source>The server could not take your request; try again</source>
        <translation>服务器暂时无法处理你的请求，请重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="52"/>
        <source>The server refused the request (error %1: %2)</source>
        <translation>服务器拒绝了请求（错误 %1：%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="54"/>
        <source>The server refused the request (error %1)</source>
        <translation>服务器拒绝了请求（错误 %1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="61"/>
        <source>You&apos;re next</source>
        <translation>下一个就是你</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="62"/>
        <source>Position %1 in line</source>
        <translation>排队第 %1 位</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="68"/>
        <source>Emergency on %1 cancelled by %2</source>
        <translation>%1 的紧急呼叫已被 %2 取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="76"/>
        <source>EMERGENCY in %1 raised by you</source>
        <translation>你在 %1 发起了紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="78"/>
        <source>EMERGENCY in %1 raised by %2</source>
        <translation>%2 在 %1 发起了紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="81"/>
        <source>EMERGENCY raised by you</source>
        <translation>你发起了紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_text.py" line="82"/>
        <source>EMERGENCY raised by %1</source>
        <translation>%1 发起了紧急呼叫</translation>
    </message>
</context>
<context>
    <name>GlobalTalkKeyEdit</name>
    <message>
        <location filename="../../app/ui/global_key_edit.py" line="106"/>
        <source>Turn off</source>
        <translation>不使用</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key_edit.py" line="107"/>
        <source>No global talk key: the talk key works only while the Interphone window has focus</source>
        <translation>不使用全局讲话键：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
</context>
<context>
    <name>GlobalTalkKeyService</name>
    <message>
        <location filename="../../app/ui/global_key.py" line="91"/>
        <source>Global talk key refused: %1</source>
        <translation>全局讲话键被拒绝：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key.py" line="167"/>
        <source>%1 (for this run, from --global-talk-key)</source>
        <translation>%1（仅本次运行，来自 --global-talk-key）</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key.py" line="176"/>
        <source>This key was given on the command line (--global-talk-key) for this run. A change here takes effect at once and is saved.</source>
        <translation>此键来自命令行（--global-talk-key），仅用于本次运行。在此处更改会立即生效并保存。</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key.py" line="179"/>
        <source>The command line (--global-talk-key &quot;&quot;) turned the global talk key off for this run. A key chosen here takes effect at once and is saved.</source>
        <translation>命令行（--global-talk-key &quot;&quot;）在本次运行中关闭了全局讲话键。在此处选择的键会立即生效并保存。</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key.py" line="185"/>
        <source>Global talk key unavailable: %1</source>
        <translation>全局讲话键不可用：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key.py" line="112"/>
        <source>Global talk key: %1</source>
        <translation>全局讲话键：%1</translation>
    </message>
</context>
<context>
    <name>HotkeyText</name>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="23"/>
        <source>Left Ctrl</source>
        <translation>左 Ctrl</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="24"/>
        <source>Right Ctrl</source>
        <translation>右 Ctrl</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="25"/>
        <source>Left Alt</source>
        <translation>左 Alt</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="26"/>
        <source>Right Alt</source>
        <translation>右 Alt</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="27"/>
        <source>Left Shift</source>
        <translation>左 Shift</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="28"/>
        <source>Right Shift</source>
        <translation>右 Shift</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="29"/>
        <source>Left Super</source>
        <translation>左 Super</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="30"/>
        <source>Right Super</source>
        <translation>右 Super</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="32"/>
        <source>Mouse back button</source>
        <translation>鼠标后退键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="33"/>
        <source>Mouse forward button</source>
        <translation>鼠标前进键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="44"/>
        <source>“%1” cannot be the global talk key: %2</source>
        <translation>“%1”不能用作全局讲话键：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="48"/>
        <source>this desktop does not offer global shortcuts (%1): the talk key works only while Interphone has focus</source>
        <translation>此桌面不提供全局快捷键（%1）：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="53"/>
        <source>“%1” is a combination: the global talk key is one key held alone (for example Right Ctrl or F9)</source>
        <translation>“%1”是组合键：全局讲话键只能是单独按住的一个键（例如右 Ctrl 或 F9）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="56"/>
        <source>“%1” is not a key name Interphone knows; use one of: %2</source>
        <translation>实时对讲不认识按键名称“%1”；请使用以下名称之一：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="59"/>
        <source>no X display to take the global talk key from (%1)</source>
        <translation>没有可用来获取全局讲话键的 X 显示服务器（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="62"/>
        <source>this keyboard layout has no %1 key</source>
        <translation>此键盘布局中没有 %1 键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="64"/>
        <source>global keys need pynput, which cannot load here (%1): the talk key works only while Interphone has focus</source>
        <translation>全局按键需要 pynput，但这里无法加载它（%1）：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="67"/>
        <source>this system has no %1 key</source>
        <translation>此系统没有 %1 键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="69"/>
        <source>this system has no %1</source>
        <translation>此系统没有 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="71"/>
        <source>another program already uses the %1 key as a global shortcut: choose another talk key, or free it in that program</source>
        <translation>另一个程序已将 %1 键用作全局快捷键：请选择其他讲话键，或在那个程序中释放它</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="74"/>
        <source>another program already uses the %1 as a global shortcut: choose another talk key, or free it in that program</source>
        <translation>另一个程序已将 %1 用作全局快捷键：请选择其他讲话键，或在那个程序中释放它</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="82"/>
        <source>no key given</source>
        <translation>未指定按键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="83"/>
        <source>no graphical session found (neither DISPLAY nor WAYLAND_DISPLAY is set): the talk key works only while Interphone has focus</source>
        <translation>未找到图形会话（DISPLAY 和 WAYLAND_DISPLAY 均未设置）：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="86"/>
        <source>on Wayland the desktop lends keyboard shortcuts only: choose a key (Right Ctrl, F9…) as the global talk key</source>
        <translation>在 Wayland 下，桌面只提供键盘快捷键：请选择一个键（右 Ctrl、F9…）作为全局讲话键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="89"/>
        <source>the desktop did not bind the global talk key: the talk key works only while Interphone has focus</source>
        <translation>桌面没有绑定全局讲话键：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="92"/>
        <source>the desktop did not bind the global talk key (cancelled): the talk key works only while Interphone has focus</source>
        <translation>桌面没有绑定全局讲话键（已取消）：讲话键仅在实时对讲窗口处于焦点时有效</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="102"/>
        <source>Caps Lock</source>
        <translation>大写锁定键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="104"/>
        <source>Num Lock</source>
        <translation>数字锁定键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="110"/>
        <source>it types in every other program: while Interphone runs, no other program would receive it; choose a modifier alone (Right Ctrl), a function key (F1–F24), Pause, Scroll Lock, Insert, Menu or a mouse side button</source>
        <translation>它在所有其他程序中用于输入：实时对讲运行期间，其他程序都将收不到这个键；请选择单独的修饰键（右 Ctrl）、功能键（F1–F24）、Pause、Scroll Lock、Insert、Menu 或鼠标侧键</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="115"/>
        <source>it switches Caps Lock on and off in every program, so each press would also change Caps Lock</source>
        <translation>它在所有程序中开关大写锁定（Caps Lock），每按一次都会同时切换大小写</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="118"/>
        <source>it switches Num Lock on and off in every program, so each press would also change Num Lock</source>
        <translation>它在所有程序中开关数字锁定（Num Lock），每按一次都会同时切换小键盘的数字锁定</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="122"/>
        <source>%1 (Space stays the talk key inside the Interphone window)</source>
        <translation>%1（在实时对讲窗口内，空格键仍是讲话键）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="125"/>
        <source>Escape closes dialogs and cancels actions in every other program</source>
        <translation>Esc 键在所有其他程序中用于关闭对话框和取消操作</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="127"/>
        <source>it edits text or moves through it in every other program, which would stop working</source>
        <translation>它在所有其他程序中用于编辑文字或移动光标，这些操作将无法使用</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="130"/>
        <source>it is the left button of the mouse, which every program needs; choose a side button (Mouse4, Mouse5)</source>
        <translation>它是鼠标左键，每个程序都需要它；请选择鼠标侧键（Mouse4、Mouse5）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="133"/>
        <source>it is the middle button of the mouse, which every program needs; choose a side button (Mouse4, Mouse5)</source>
        <translation>它是鼠标中键，每个程序都需要它；请选择鼠标侧键（Mouse4、Mouse5）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="136"/>
        <source>it is the right button of the mouse, which every program needs; choose a side button (Mouse4, Mouse5)</source>
        <translation>它是鼠标右键，每个程序都需要它；请选择鼠标侧键（Mouse4、Mouse5）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="139"/>
        <source>it is the wheel of the mouse, which every program needs; choose a side button (Mouse4, Mouse5)</source>
        <translation>它是鼠标滚轮，每个程序都需要它；请选择鼠标侧键（Mouse4、Mouse5）</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="148"/>
        <source>python-xlib cannot be loaded: %1</source>
        <translation>无法加载 python-xlib：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="150"/>
        <source>no D-Bus session: %1</source>
        <translation>没有 D-Bus 会话：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="152"/>
        <source>no desktop portal for global shortcuts: %1</source>
        <translation>没有提供全局快捷键的桌面门户：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="156"/>
        <source>the desktop portal did not answer %1</source>
        <translation>桌面门户没有应答 %1 请求</translation>
    </message>
    <message>
        <location filename="../../app/ui/hotkey_text.py" line="158"/>
        <source>the desktop portal did not answer</source>
        <translation>桌面门户没有应答</translation>
    </message>
</context>
<context>
    <name>IncomingCallBanner</name>
    <message>
        <location filename="../../app/ui/call_banner.py" line="78"/>
        <source>&lt;b&gt;%1&lt;/b&gt; is calling you</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; 正在呼叫你</translation>
    </message>
    <message>
        <location filename="../../app/ui/call_banner.py" line="80"/>
        <source>Answer</source>
        <translation>接听</translation>
    </message>
    <message>
        <location filename="../../app/ui/call_banner.py" line="81"/>
        <source>Dismiss</source>
        <translation>忽略</translation>
    </message>
    <message>
        <location filename="../../app/ui/call_banner.py" line="84"/>
        <source>Answer the call from %1</source>
        <translation>接听 %1 的来电</translation>
    </message>
    <message>
        <location filename="../../app/ui/call_banner.py" line="86"/>
        <source>Dismiss the call from %1</source>
        <translation>忽略 %1 的来电</translation>
    </message>
</context>
<context>
    <name>InterphoneList</name>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="399"/>
        <location filename="../../app/ui/interphone_list.py" line="411"/>
        <location filename="../../app/ui/interphone_list.py" line="419"/>
        <source>Muted</source>
        <translation>已静音</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="405"/>
        <source>Group</source>
        <translation>群组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="405"/>
        <source>Discussion</source>
        <translation>讨论组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="406"/>
        <source>One-to-one call</source>
        <translation>一对一对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="411"/>
        <location filename="../../app/ui/interphone_list.py" line="421"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="413"/>
        <source>Talk target</source>
        <translation>发言频道</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="415"/>
        <source>Listening</source>
        <translation>收听中</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="417"/>
        <source>calling…</source>
        <translation>正在呼叫…</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="421"/>
        <source>Online</source>
        <translation>在线</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="423"/>
        <source>you are speaking</source>
        <translation>你正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="426"/>
        <source>%1 speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="430"/>
        <source>Not active</source>
        <translation>未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="448"/>
        <source>%1 of %2</source>
        <translation>%1/%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="451"/>
        <source>No group, discussion or contact matches “%1”</source>
        <translation>没有与“%1”匹配的群组、讨论组或联系人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="465"/>
        <source>%1 (%2)</source>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="468"/>
        <source>Groups</source>
        <translation>群组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="468"/>
        <source>Discussions</source>
        <translation>讨论组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="469"/>
        <source>Contacts</source>
        <translation>联系人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="491"/>
        <source>Filter by name…</source>
        <translation>按名称筛选…</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="492"/>
        <source>Filter the list by name (%1)</source>
        <translation>按名称筛选列表（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="495"/>
        <source>Filter</source>
        <translation>筛选</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_list.py" line="496"/>
        <source>Interphones</source>
        <translation>对讲列表</translation>
    </message>
</context>
<context>
    <name>InterphoneMixControls</name>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="99"/>
        <source>Volume of this interphone: %1 %</source>
        <translation>此对讲的音量：%1 %</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="118"/>
        <source>Unmute</source>
        <translation>取消静音</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="118"/>
        <source>Mute</source>
        <translation>静音</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="131"/>
        <source>Unmute %1</source>
        <translation>取消静音 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="131"/>
        <source>Mute %1</source>
        <translation>静音 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="148"/>
        <source>Talk here</source>
        <translation>在此发言</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="149"/>
        <source>Make this the interphone the talk key talks into</source>
        <translation>按讲话键时在此对讲中发言</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="150"/>
        <source>Volume of this interphone</source>
        <translation>此对讲的音量</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_mix.py" line="152"/>
        <source>Silence this interphone (stay joined)</source>
        <translation>静音此对讲（不退出）</translation>
    </message>
</context>
<context>
    <name>InterphonePanel</name>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="257"/>
        <source>%1 % lost</source>
        <translation>丢包 %1 %</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="258"/>
        <source>jitter %1 ms</source>
        <translation>抖动 %1 毫秒</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="260"/>
        <source>no audio for %1 s</source>
        <translation>已 %1 秒没有收到音频</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="262"/>
        <source>FEC repairing</source>
        <translation>FEC 修复中</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="264"/>
        <source>FEC on</source>
        <translation>FEC 已开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="265"/>
        <source>Reception: %1</source>
        <translation>接收：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="271"/>
        <source>Packets lost and arrival jitter over the last seconds of what you hear; FEC: the speaker sends redundancy that rebuilds lost packets.</source>
        <translation>最近几秒收听语音的丢包率和到达抖动；FEC：讲话人发送冗余数据，用来重建丢失的包。</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="317"/>
        <source>No interphone selected</source>
        <translation>未选择对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="319"/>
        <source>Pick a group, discussion or contact on the left.</source>
        <translation>请在左侧选择群组、讨论组或联系人。</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="325"/>
        <source>Group</source>
        <translation>群组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="325"/>
        <source>Discussion</source>
        <translation>讨论组</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="326"/>
        <source>One-to-one call</source>
        <translation>一对一对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="328"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="329"/>
        <source>Not active</source>
        <translation>未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="332"/>
        <source>Call</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="332"/>
        <source>Join</source>
        <translation>加入</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="338"/>
        <source>Not connected: you can join once connected again</source>
        <translation>未连接：重新连接后才能加入</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="339"/>
        <source>%1 is offline: you can call when they are online</source>
        <translation>%1 不在线：对方上线后才能呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="341"/>
        <source>Call this contact</source>
        <translation>呼叫此联系人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="344"/>
        <source>Not connected: you can leave once connected again</source>
        <translation>未连接：重新连接后才能离开</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="349"/>
        <source>%1 is offline</source>
        <translation>%1 不在线</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="365"/>
        <location filename="../../app/ui/interphone_panel.py" line="368"/>
        <location filename="../../app/ui/interphone_panel.py" line="374"/>
        <location filename="../../app/ui/interphone_panel.py" line="540"/>
        <source>Members</source>
        <translation>成员</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="357"/>
        <location filename="../../app/ui/interphone_panel.py" line="369"/>
        <source>Offline: members unknown</source>
        <translation>离线：成员未知</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="357"/>
        <location filename="../../app/ui/interphone_panel.py" line="375"/>
        <source>Join to see who is in</source>
        <translation>加入后可查看成员</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="356"/>
        <location filename="../../app/ui/interphone_panel.py" line="379"/>
        <source>Members (%1)</source>
        <translation>成员（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="356"/>
        <location filename="../../app/ui/interphone_panel.py" line="382"/>
        <source> (you)</source>
        <translation>（你）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="385"/>
        <source>%1 (%2)</source>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="356"/>
        <location filename="../../app/ui/interphone_panel.py" line="395"/>
        <source>speaking</source>
        <translation>正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="424"/>
        <source>Offline: who is speaking is unknown</source>
        <translation>离线：不知道谁在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="431"/>
        <source>You are speaking · %1</source>
        <translation>你正在讲话 · %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="433"/>
        <source>%1 is speaking · %2</source>
        <translation>%1 正在讲话 · %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="438"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="442"/>
        <source>Calling %1… no answer yet</source>
        <translation>正在呼叫 %1…尚未接听</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="446"/>
        <source>Nobody is speaking</source>
        <translation>无人讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="449"/>
        <source>This interphone is not active</source>
        <translation>此对讲未开启</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="455"/>
        <source>you</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="460"/>
        <source>Last spoke: %1 at %2 (%3, cut off)</source>
        <translation>上一位讲话者：%1，%2 开始（%3，已中断）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="467"/>
        <source>Last heard before going offline: %1</source>
        <translation>离线前最后听到：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="472"/>
        <source>Nobody has spoken yet</source>
        <translation>还没有人讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="45"/>
        <source>1 member</source>
        <translation>1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="46"/>
        <source>%1 members</source>
        <translation>%1 人</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="457"/>
        <source>Last spoke: %1, until %2</source>
        <translation>上一位讲话者：%1，讲到 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="463"/>
        <source>Last spoke: %1 at %2 (%3)</source>
        <translation>上一位讲话者：%1，%2 开始（%3）</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="539"/>
        <source>Leave</source>
        <translation>离开</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="341"/>
        <source>Join this interphone</source>
        <translation>加入此对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/interphone_panel.py" line="345"/>
        <source>Leave this interphone</source>
        <translation>离开此对讲</translation>
    </message>
</context>
<context>
    <name>LevelMeter</name>
    <message>
        <location filename="../../app/ui/level_meter.py" line="101"/>
        <source>%1: %2 %</source>
        <translation>%1：%2%</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="55"/>
        <source>Cancel the &amp;emergency in %1</source>
        <translation>取消 %1 中的紧急呼叫(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="56"/>
        <source>Raise an &amp;emergency in %1</source>
        <translation>在 %1 发起紧急呼叫(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="59"/>
        <source>Cancel the &amp;emergency here</source>
        <translation>取消此处的紧急呼叫(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="64"/>
        <source>An emergency is already raised in %1 by %2</source>
        <translation>%2 已在 %1 发起紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="66"/>
        <source>An emergency is already raised here by %1</source>
        <translation>%1 已在此发起紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="87"/>
        <source>Raise an emergency</source>
        <translation>发起紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="85"/>
        <source>Raise the emergency in %1?</source>
        <translation>在 %1 发起紧急呼叫？</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="86"/>
        <source>Raise the emergency here?</source>
        <translation>在此发起紧急呼叫？</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="90"/>
        <source>Everyone in it is alerted until it is cancelled.</source>
        <translation>其中的每个人都会收到警报，直到紧急呼叫被取消。</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="91"/>
        <source>Raise emergency</source>
        <translation>发起紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/about_box.py" line="15"/>
        <source>About Interphone</source>
        <translation>关于实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/about_box.py" line="16"/>
        <source>&lt;b&gt;Interphone&lt;/b&gt; %1&lt;br&gt;Push-to-talk for groups, discussions and one-to-one calls.</source>
        <translation>&lt;b&gt;实时对讲&lt;/b&gt; %1&lt;br&gt;用于群组、讨论组和一对一通话的按键讲话工具。</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_notices.py" line="58"/>
        <source>Incoming call</source>
        <translation>来电</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_notices.py" line="56"/>
        <location filename="../../app/ui/window_tray.py" line="56"/>
        <source>%1 is calling you</source>
        <translation>%1 正在呼叫你</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_notices.py" line="75"/>
        <location filename="../../app/ui/window_tray.py" line="58"/>
        <source>%1 is speaking in %2</source>
        <translation>%1 正在 %2 中讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="379"/>
        <location filename="../../app/ui/main_window.py" line="420"/>
        <location filename="../../app/ui/window_notices.py" line="96"/>
        <source>Interphone</source>
        <translation>实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_notices.py" line="109"/>
        <source>Missed call</source>
        <translation>未接呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_notices.py" line="117"/>
        <source>Emergency</source>
        <translation>紧急呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="422"/>
        <source>You are speaking</source>
        <translation>你正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="423"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="437"/>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="438"/>
        <source>Connected as %1</source>
        <translation>已连接：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="440"/>
        <source>Connected as %1, but the server cannot reach its database; trying again…</source>
        <translation>已以 %1 身份连接，但服务器无法连接其数据库；正在重试…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="443"/>
        <source>Connection lost, reconnecting…</source>
        <translation>连接已断开，正在重连…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="444"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="447"/>
        <source>%1 (%2)</source>
        <comment>the connection&apos;s state (a detail)</comment>
        <translation>%1（%2）</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="476"/>
        <source>Audio: simulated, no sound card (%1)</source>
        <translation>音频：模拟，无声卡（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="478"/>
        <source>Audio: simulated, no sound card</source>
        <translation>音频：模拟（无声卡）</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="480"/>
        <source>Audio: %1</source>
        <translation>音频：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/window_tray.py" line="62"/>
        <source>Speaker muted</source>
        <translation>扬声器已静音</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="587"/>
        <source>&amp;Interphone</source>
        <translation>实时对讲(&amp;I)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="588"/>
        <source>&amp;About Interphone</source>
        <translation>关于实时对讲(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="589"/>
        <source>&amp;Reconnect</source>
        <translation>重新连接(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="590"/>
        <source>Sign in again with the same account</source>
        <translation>用同一账号重新登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="591"/>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="592"/>
        <source>Sign &amp;out</source>
        <translation>退出登录(&amp;O)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="593"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../app/ui/emergency_action.py" line="60"/>
        <source>Raise an &amp;emergency here</source>
        <translation>在此发起紧急呼叫(&amp;E)</translation>
    </message>
</context>
<context>
    <name>OfflineTray</name>
    <message>
        <location filename="../../app/ui/offline_start.py" line="29"/>
        <source>Offline — retrying (attempt %1)</source>
        <translation>离线，正在重试（第 %1 次）</translation>
    </message>
    <message>
        <location filename="../../app/ui/offline_start.py" line="31"/>
        <source>Offline — retrying</source>
        <translation>离线，正在重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/offline_start.py" line="75"/>
        <source>&amp;Sign in…</source>
        <translation>登录(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../app/ui/offline_start.py" line="76"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../app/ui/offline_start.py" line="77"/>
        <source>Interphone</source>
        <translation>实时对讲</translation>
    </message>
</context>
<context>
    <name>PreferencesController</name>
    <message>
        <location filename="../../app/ui/preferences.py" line="137"/>
        <source>The test sound could not play: no audio device is open.</source>
        <translation>无法播放测试声音：没有打开的音频设备。</translation>
    </message>
    <message>
        <location filename="../../app/ui/preferences.py" line="147"/>
        <source>The test sound could not play: %1</source>
        <translation>无法播放测试声音：%1</translation>
    </message>
</context>
<context>
    <name>Presenter</name>
    <message>
        <location filename="../../app/ui/presenter.py" line="357"/>
        <source>You were removed from %1</source>
        <translation>你已被移出 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="169"/>
        <source>Missed call from %1</source>
        <translation>%1 的未接呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="63"/>
        <source>Calling %1…</source>
        <translation>正在呼叫 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="64"/>
        <source>%1 answered</source>
        <translation>%1 已接听</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="65"/>
        <source>%1 declined the call</source>
        <translation>%1 拒绝了呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="66"/>
        <source>No answer from %1</source>
        <translation>%1 无应答</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="431"/>
        <location filename="../../app/ui/presenter_calls.py" line="67"/>
        <location filename="../../app/ui/presenter_calls.py" line="114"/>
        <source>%1 is offline</source>
        <translation>%1 不在线</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="68"/>
        <source>Call to %1 cancelled</source>
        <translation>已取消对 %1 的呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="117"/>
        <source>%1 left the call</source>
        <translation>%1 已挂断</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="142"/>
        <source>%1 · you left the empty chat and talk into %2 again</source>
        <translation>%1 · 你已离开空的一对一对讲，重新发言至 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_calls.py" line="146"/>
        <source>%1 · you left the empty chat</source>
        <translation>%1 · 你已离开空的一对一对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="354"/>
        <source>You were removed from %1: now talking into %2</source>
        <translation>你已被移出 %1：现在发言至 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="495"/>
        <source>Left %1: now talking into %2</source>
        <translation>已退出 %1：现在发言至 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="448"/>
        <source>Call to %1 failed: %2</source>
        <translation>呼叫 %1 失败：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="255"/>
        <source>Reconnected to the server</source>
        <translation>已重新连接到服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="510"/>
        <source>Request failed: %1</source>
        <translation>请求失败：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="521"/>
        <source>Not connected: your account was removed from the server&apos;s directory. Ask its administrator.</source>
        <translation>未连接：你的账号已从服务器的目录中移除。请联系服务器管理员。</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="524"/>
        <source>Not connected: you signed in elsewhere. Press Reconnect to continue here.</source>
        <translation>未连接：你已在别处登录。按“重新连接”在此继续。</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="527"/>
        <source>Not connected yet: reconnecting…</source>
        <translation>尚未连接：正在重新连接…</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter.py" line="528"/>
        <source>Not connected to the server.</source>
        <translation>未连接到服务器。</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="43"/>
        <source>%1 will be joined once the server&apos;s database is back</source>
        <translation>服务器数据库恢复后将立即加入%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="60"/>
        <source>your account was removed from the server&apos;s directory</source>
        <translation>你的账号已从服务器的目录中移除</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="63"/>
        <source>signed in elsewhere</source>
        <translation>已在别处登录</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="65"/>
        <source>sign-in refused</source>
        <translation>登录被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="71"/>
        <source>attempt %1: the server cannot reach its database</source>
        <translation>第 %1 次尝试：服务器无法连接其数据库</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="74"/>
        <source>attempt %1</source>
        <translation>第 %1 次尝试</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="76"/>
        <source>no audio: UDP blocked on the way</source>
        <translation>无音频：UDP 在途中被拦截</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="85"/>
        <source>encrypted, %1</source>
        <translation>已加密，%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="87"/>
        <source>encrypted</source>
        <translation>已加密</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="118"/>
        <source>The server reaches its database again</source>
        <translation>服务器已重新连上其数据库</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="128"/>
        <source>The server could not reach its database: join %1 again</source>
        <translation>服务器未能连接其数据库：请再次加入%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="150"/>
        <source>No audio either way: UDP to the server gets no answer (a firewall?)</source>
        <translation>双向均无音频：发往服务器的 UDP 没有应答（防火墙？）</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_link.py" line="155"/>
        <source>Audio gets through to the server again</source>
        <translation>音频已重新送达服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_list.py" line="64"/>
        <source>%1 is no longer available to you</source>
        <translation>%1 已不再对你开放</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_turn.py" line="133"/>
        <source>Talks into %1 (muted)</source>
        <translation>发言至 %1（已静音）</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_turn.py" line="134"/>
        <source>Talks into %1</source>
        <translation>发言至 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_turn.py" line="137"/>
        <source>Muted here: you will not hear replies</source>
        <translation>此处已静音：你听不到回复</translation>
    </message>
    <message>
        <location filename="../../app/ui/presenter_turn.py" line="42"/>
        <source>Not connected — can&apos;t talk now</source>
        <translation>未连接，现在无法讲话</translation>
    </message>
</context>
<context>
    <name>ReplayList</name>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="118"/>
        <source>(%1)</source>
        <translation>（%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="243"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="389"/>
        <location filename="../../app/ui/floor_widgets.py" line="444"/>
        <source>Play again</source>
        <translation>重新播放</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="403"/>
        <source>Play again: %1 at %2 (%3)</source>
        <translation>重新播放：%1，%2（%3）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="404"/>
        <source>Play again: %1 at %2 (%3), not heard yet</source>
        <translation>重新播放：%1，%2（%3），尚未收听</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="408"/>
        <source>%1 at %2 (%3)</source>
        <translation>%1，%2（%3）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="409"/>
        <source>%1 at %2 (%3), not heard yet</source>
        <translation>%1，%2（%3），尚未收听</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="465"/>
        <source>Replay (%1 unheard)</source>
        <translation>回放（%1 条未听）</translation>
    </message>
    <message>
        <location filename="../../app/ui/floor_widgets.py" line="466"/>
        <location filename="../../app/ui/floor_widgets.py" line="468"/>
        <source>Replay</source>
        <translation>回放</translation>
    </message>
</context>
<context>
    <name>Runtime</name>
    <message>
        <location filename="../../app/ui/runtime.py" line="363"/>
        <source>Settings cannot be saved: %1 cannot be written. Changes will be lost at exit.</source>
        <translation>无法保存设置：无法写入 %1。退出时所做的更改将丢失。</translation>
    </message>
    <message>
        <location filename="../../app/ui/runtime.py" line="494"/>
        <source>Could not change the start at login: %1</source>
        <translation>无法更改登录时启动：%1</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="250"/>
        <location filename="../../app/ui/settings_dialog.py" line="458"/>
        <location filename="../../app/ui/settings_dialog.py" line="459"/>
        <location filename="../../app/ui/settings_dialog.py" line="480"/>
        <source>System default</source>
        <translation>系统默认</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="285"/>
        <source>This desktop has no system tray: closing the window quits Interphone.</source>
        <translation>此桌面没有系统托盘：关闭窗口即退出实时对讲。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="301"/>
        <source>No sound card is in use: the audio is simulated, so nothing is played or recorded. Connect one, then refresh the device lists.</source>
        <translation>未使用声卡：音频为模拟，不会播放或录制任何声音。请连接声卡，然后刷新设备列表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="324"/>
        <location filename="../../app/ui/settings_dialog.py" line="329"/>
        <source>Playing…</source>
        <translation>正在播放…</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="338"/>
        <source>The speaker is muted in the main window: unmute it to hear the test sound and the microphone test.</source>
        <translation>主窗口中扬声器已静音：取消静音后才能听到测试声音和麦克风测试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="340"/>
        <source>The speaker volume in the main window is at 0: turn it up to hear the test sound and the microphone test.</source>
        <translation>主窗口中扬声器音量为 0：调高音量后才能听到测试声音和麦克风测试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="379"/>
        <location filename="../../app/ui/settings_dialog.py" line="498"/>
        <source>Stop the test</source>
        <translation>停止测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="379"/>
        <location filename="../../app/ui/settings_dialog.py" line="499"/>
        <source>Test the microphone</source>
        <translation>测试麦克风</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="440"/>
        <source>Interphone settings</source>
        <translation>实时对讲设置</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="441"/>
        <source>Audio</source>
        <translation>音频</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="442"/>
        <source>Talking</source>
        <translation>通话</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="443"/>
        <source>Interface</source>
        <translation>界面</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="444"/>
        <source>&amp;Microphone:</source>
        <translation>麦克风(&amp;M)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="444"/>
        <source>&amp;Speaker:</source>
        <translation>扬声器(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="445"/>
        <source>Opus &amp;bitrate:</source>
        <translation>Opus 码率(&amp;B)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="445"/>
        <source>&amp;Frame duration:</source>
        <translation>帧长(&amp;F)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="446"/>
        <source>Talk &amp;key:</source>
        <translation>讲话键(&amp;K)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="446"/>
        <source>&amp;Release delay:</source>
        <translation>松开延迟(&amp;R)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="447"/>
        <source>&amp;Talk:</source>
        <translation>讲话方式(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="448"/>
        <source>&amp;Global talk key:</source>
        <translation>全局讲话键(&amp;G)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="449"/>
        <source>&amp;Language:</source>
        <translation>语言(&amp;L)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="460"/>
        <source>&amp;Refresh the device lists</source>
        <translation>刷新设备列表(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="461"/>
        <source>Look again for microphones and speakers, e.g. one plugged in after the app started</source>
        <translation>重新查找麦克风和扬声器，例如程序启动后才插入的设备</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="326"/>
        <source>&amp;Play a test sound</source>
        <translation>播放测试声音(&amp;P)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="464"/>
        <source>Play &amp;tones (talk permit, busy, end, incoming call)</source>
        <translation>播放提示音(&amp;T)（允许讲话、占线、结束、来电）</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="465"/>
        <source>Microphone test</source>
        <translation>麦克风测试</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="467"/>
        <source>While the test runs you hear yourself; speak and watch the meter.</source>
        <translation>测试期间你会听到自己的声音；请说话并观察电平表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="469"/>
        <source> ms</source>
        <translation> 毫秒</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="470"/>
        <source>&amp;Closing the window keeps Interphone running in the system tray</source>
        <translation>关闭窗口后实时对讲继续在系统托盘中运行(&amp;C)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="472"/>
        <source>&amp;Start Interphone when I log in</source>
        <translation>登录时启动实时对讲(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="476"/>
        <source>Hold the key or button to talk</source>
        <translation>按住讲话键或按钮讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="477"/>
        <source>Press to start talking, press again to stop</source>
        <translation>按一次开始讲话，再按一次停止</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="489"/>
        <source>Press the talk key (or the talk button) once to start talking while the Interphone window has focus, and again to stop. The talk limit, losing the floor or hiding the window stops it too.</source>
        <translation>在实时对讲窗口处于焦点时，按一次讲话键（或讲话按钮）开始讲话，再按一次停止。达到讲话时长上限、讲话被他人接管或隐藏窗口时也会停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings_dialog.py" line="494"/>
        <source>Hold the talk key while the Interphone window has focus. The release delay keeps sending a moment after you let go, so the last syllable is not cut.</source>
        <translation>在实时对讲窗口处于焦点时按住讲话键即可讲话。松开延迟会在你松开后继续发送片刻，避免最后一个字被截断。</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <location filename="../../app/ui/sign_in.py" line="271"/>
        <source>Not encrypted: your token and your voice cross the network in clear text.</source>
        <translation>未加密：您的令牌和语音以明文在网络上传输。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="277"/>
        <source>Encrypted (TLS). Server certificate: %1</source>
        <translation>已加密（TLS）。服务器证书：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="282"/>
        <source>Encrypted (TLS); the server&apos;s certificate is checked when you sign in.</source>
        <translation>已加密（TLS）；登录时将检查服务器证书。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="287"/>
        <source>No system keyring was found: a remembered token is kept in %1, readable by you only.</source>
        <translation>未找到系统密钥环：记住的令牌保存在 %1，仅你本人可读。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="290"/>
        <source>%1 cannot be written: “Remember me on this computer” lasts only until Interphone quits; the next start asks you to sign in again.</source>
        <translation>无法写入 %1：“在此电脑上记住我”仅在 Interphone 退出前有效，下次启动时需要重新登录。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="293"/>
        <source>Connecting to %1…</source>
        <translation>正在连接 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="307"/>
        <source>Cannot reach the server at %1. Check the address and that the server is running.</source>
        <translation>无法连接服务器 %1。请检查地址，并确认服务器正在运行。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="310"/>
        <source>The server refused the sign-in: wrong user name or token.</source>
        <translation>服务器拒绝登录：用户名或令牌错误。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="312"/>
        <source>The server address must look like host:port, e.g. 127.0.0.1:9400.</source>
        <translation>服务器地址格式应为 主机:端口，例如 127.0.0.1:9400。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="313"/>
        <source>Enter your user name and token.</source>
        <translation>请输入用户名和令牌。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="315"/>
        <source>A user name is 1 to 64 letters, digits, dots, underscores, hyphens or @, without spaces.</source>
        <translation>用户名由 1 到 64 个字母、数字、点、下划线、连字符或 @ 组成，不能有空格。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="321"/>
        <source>WARNING: this server&apos;s certificate has changed since you accepted it. Someone may be intercepting the connection. Sign in only if the operator confirms the change.</source>
        <translation>警告：此服务器的证书与您之前接受的不同。可能有人正在截获连接。只有在管理员确认更换后才能登录。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="324"/>
        <source>The encrypted connection failed.</source>
        <translation>加密连接失败。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="325"/>
        <source>Signing in failed.</source>
        <translation>登录失败。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="330"/>
        <source>Cannot reach the server at %1: %2. Check the address and that the server is running.</source>
        <translation>无法连接服务器 %1：%2。请检查地址，并确认服务器正在运行。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="343"/>
        <source>WARNING: the certificate of %1 has changed since you accepted it. Someone may be intercepting the connection.</source>
        <translation>警告：%1 的证书在您接受之后已更换。可能有人正在截获连接。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="350"/>
        <source>Details: %1</source>
        <translation>详情：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="363"/>
        <source>You accepted %1; the server now presents %2. Ask the server&apos;s operator: only if they confirm this new fingerprint, tick the box below and sign in again.</source>
        <translation>您之前接受的是 %1；服务器现在出示的是 %2。请向服务器管理员核实：只有在对方确认这个新指纹后，才勾选下面的复选框并重新登录。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="318"/>
        <source>First connection to this server. Is this its certificate&apos;s fingerprint, as the server&apos;s operator gave it to you?</source>
        <translation>首次连接此服务器。这是服务器管理员提供给您的证书指纹吗？</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="274"/>
        <source>Encrypted (TLS).</source>
        <translation>已加密（TLS）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="334"/>
        <source>First connection to %1. Is this its certificate&apos;s fingerprint, as the server&apos;s operator gave it to you?</source>
        <translation>首次连接 %1。这是服务器管理员提供给您的证书指纹吗？</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="338"/>
        <source>If it is, tick the box below and sign in again. If it is not, do not sign in: someone may be intercepting the connection.</source>
        <translation>如果是，请勾选下面的复选框并重新登录。如果不是，请不要登录：可能有人正在截获连接。</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="450"/>
        <source>Sign in to Interphone</source>
        <translation>登录实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="451"/>
        <source>Interphone</source>
        <translation>实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="452"/>
        <source>&amp;Server:</source>
        <translation>服务器(&amp;S)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="452"/>
        <source>&amp;User:</source>
        <translation>用户(&amp;U)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="452"/>
        <source>&amp;Token:</source>
        <translation>令牌(&amp;T)：</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="456"/>
        <source>host:port, e.g. 127.0.0.1:9400 (several: a:9400, b:9400)</source>
        <translation>主机:端口，例如 127.0.0.1:9400（多个：a:9400, b:9400）</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="457"/>
        <source>your user name</source>
        <translation>你的用户名</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="458"/>
        <source>your password or token</source>
        <translation>你的密码或令牌</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="459"/>
        <source>&amp;Remember me on this computer</source>
        <translation>在此电脑上记住我(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="460"/>
        <source>&amp;Encrypted connection (TLS)</source>
        <translation>加密连接（TLS）(&amp;E)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="462"/>
        <source>I checked the &amp;fingerprint: trust this certificate for this server</source>
        <translation>我已核对指纹：信任此服务器的这个证书(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="464"/>
        <source>Sign &amp;in</source>
        <translation>登录(&amp;I)</translation>
    </message>
    <message>
        <location filename="../../app/ui/sign_in.py" line="465"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>TalkButton</name>
    <message>
        <location filename="../../app/ui/talk_button.py" line="250"/>
        <source>Press to talk</source>
        <translation>按下讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="250"/>
        <source>or press %1</source>
        <translation>或按%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="253"/>
        <source>Hold to talk</source>
        <translation>按住讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="253"/>
        <source>or hold %1</source>
        <translation>或按住%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="256"/>
        <source>Requesting…</source>
        <translation>正在申请…</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="259"/>
        <source>Waiting</source>
        <translation>排队中</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="262"/>
        <location filename="../../app/ui/talk_button.py" line="268"/>
        <location filename="../../app/ui/talk_button.py" line="270"/>
        <source>Talking</source>
        <translation>正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="262"/>
        <source>Into %1</source>
        <translation>发言至 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="268"/>
        <source>Into %1 · %2 left</source>
        <translation>发言至 %1 · 剩余 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="270"/>
        <source>%1 left</source>
        <translation>剩余 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="272"/>
        <source>Busy</source>
        <translation>占线</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="272"/>
        <source>Wait</source>
        <translation>请稍候</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="274"/>
        <source>%1 is speaking in %2</source>
        <translation>%1 正在 %2 中讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="275"/>
        <source>%1 is speaking</source>
        <translation>%1 正在讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="278"/>
        <source>Denied</source>
        <translation>被拒绝</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="278"/>
        <source>Try again</source>
        <translation>请重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="281"/>
        <source>Call</source>
        <translation>呼叫</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="283"/>
        <source>Nothing selected</source>
        <translation>未选择对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="283"/>
        <source>Pick an interphone</source>
        <translation>请选择对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="284"/>
        <source>Join to talk</source>
        <translation>加入后讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="285"/>
        <source>Offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="568"/>
        <source>Stop talking</source>
        <translation>停止讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="569"/>
        <source>Push to talk</source>
        <translation>按键讲话</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="571"/>
        <source>Press to start talking, press again to stop (or press %1)</source>
        <translation>按一次开始讲话，再按一次停止（或按%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="572"/>
        <source>Press and hold to talk (or hold %1)</source>
        <translation>按住即可讲话（或按住%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="580"/>
        <source>Talking. Press again to stop.</source>
        <translation>正在讲话。再按一次停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="582"/>
        <source>Waiting in line to talk. Press again to stop.</source>
        <translation>正在排队等待讲话。再按一次停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="583"/>
        <source>Asking to talk. Press again to stop.</source>
        <translation>正在申请讲话。再按一次停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="585"/>
        <source>%1, %2</source>
        <translation>%1，%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_button.py" line="587"/>
        <source>%1. Press to talk until you press again.</source>
        <translation>%1。按一次开始讲话，再按一次停止。</translation>
    </message>
</context>
<context>
    <name>TalkKey</name>
    <message>
        <location filename="../../app/ui/talk_key.py" line="104"/>
        <source>Caps Lock switches capitals on and off; it cannot be held to talk.</source>
        <translation>大写锁定键用于切换大小写，不能按住讲话。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="108"/>
        <source>Letters and digits are needed for typing; choose another key.</source>
        <translation>字母和数字键用于打字；请选择其他键。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="112"/>
        <source>This key is used with other keys; choose another key.</source>
        <translation>此键需与其他键组合使用；请选择其他键。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="120"/>
        <source>Right Ctrl</source>
        <translation>右 Ctrl</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="121"/>
        <source>Middle mouse button</source>
        <translation>鼠标中键</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="122"/>
        <source>Back mouse button</source>
        <translation>鼠标后退键</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key.py" line="123"/>
        <source>Forward mouse button</source>
        <translation>鼠标前进键</translation>
    </message>
</context>
<context>
    <name>TalkKeyEdit</name>
    <message>
        <location filename="../../app/ui/talk_key_edit.py" line="58"/>
        <location filename="../../app/ui/talk_key_edit.py" line="90"/>
        <source>This mouse button cannot be the talk key; use the middle, back or forward button.</source>
        <translation>此鼠标按键不能用作讲话键；请使用中键、后退键或前进键。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key_edit.py" line="76"/>
        <location filename="../../app/ui/talk_key_edit.py" line="86"/>
        <source>Left Ctrl is used for shortcuts; use Right Ctrl.</source>
        <translation>左 Ctrl 用于快捷键；请使用右 Ctrl。</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key_edit.py" line="112"/>
        <source>Press a key or mouse button…</source>
        <translation>请按下一个键或鼠标按键…</translation>
    </message>
    <message>
        <location filename="../../app/ui/talk_key_edit.py" line="115"/>
        <source>Click, then press the key or mouse button to hold for talking (Escape cancels)</source>
        <translation>点击此处，然后按下讲话时要按住的键或鼠标按键（Esc 取消）</translation>
    </message>
</context>
<context>
    <name>TrayController</name>
    <message>
        <location filename="../../app/ui/tray.py" line="156"/>
        <source>Interphone is still running</source>
        <translation>实时对讲仍在运行</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="157"/>
        <source>Closing the window keeps Interphone in the system tray, so you still hear your interphones. Quit from the tray menu; change this in Settings › Interface.</source>
        <translation>关闭窗口后实时对讲留在系统托盘中，您仍能听到对讲。请从托盘菜单退出；可在“设置 › 界面”中更改。</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="236"/>
        <source>Hide Interphone</source>
        <translation>隐藏实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="237"/>
        <source>Show Interphone</source>
        <translation>显示实时对讲</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="238"/>
        <source>Not connected</source>
        <translation>未连接</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="240"/>
        <source>Answer %1</source>
        <translation>接听 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="242"/>
        <source>Dismiss the call</source>
        <translation>忽略来电</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="249"/>
        <source>Talk target: %1 (offline)</source>
        <translation>发言频道：%1（离线）</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="250"/>
        <source>Talk target: none (offline)</source>
        <translation>发言频道：无（离线）</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="252"/>
        <source>Talk target: %1</source>
        <translation>发言频道：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="254"/>
        <source>Talk target: none (join an interphone)</source>
        <translation>发言频道：无（请加入一个对讲）</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="309"/>
        <source>&amp;Mute</source>
        <translation>静音(&amp;M)</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="310"/>
        <source>&amp;Reconnect</source>
        <translation>重新连接(&amp;R)</translation>
    </message>
    <message>
        <location filename="../../app/ui/tray.py" line="311"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
</context>
<context>
    <name>_Recorder</name>
    <message>
        <location filename="../../app/ui/global_key_edit.py" line="162"/>
        <source>Press a key or mouse side button…</source>
        <translation>请按一个键或鼠标侧键…</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key_edit.py" line="164"/>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../app/ui/global_key_edit.py" line="166"/>
        <source>Talks while another program has the focus. Click, then press Right Ctrl, a function key or a mouse side button (Escape cancels)</source>
        <translation>在其他程序处于焦点时也能讲话。点击后按右 Ctrl、功能键或鼠标侧键（Esc 取消）</translation>
    </message>
</context>
</TS>
